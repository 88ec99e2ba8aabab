/** CPU time and memory of a process from /proc (Linux): what the operator costs, measured from outside. */
import * as fs from "node:fs"

const ticksPerSecond = 100 // USER_HZ: 100 on every Linux architecture Node supports.

/** utime + stime of `pid` in seconds (children excluded). */
export const cpuSeconds = (pid: number): number => {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
  // Fields after the command (which may contain spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond
}

/** VmRSS and VmHWM (peak resident set) of `pid`, in MiB. */
export const memory = (pid: number): { readonly rssMiB: number; readonly peakRssMiB: number } => {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8")
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN)
  return { rssMiB: kib("VmRSS") / 1024, peakRssMiB: kib("VmHWM") / 1024 }
}
