/**
 * Runs a script in a V8 context that has what a browser (or an edge runtime, or Deno) gives every script and none
 * of Node's own globals: no `process`, `Buffer`, `require`, `module`, `global` or `setImmediate`. Used to show that
 * a bundle of @convex-operator/core needs nothing of Node.
 */
import * as vm from "node:vm"

/** Evaluates `code` (an IIFE bundle) in a browser-like context and returns that context's globals. */
export const runInBrowserLikeContext = (code: string): Record<string, unknown> => {
  const globals: Record<string, unknown> = {
    console,
    crypto: globalThis.crypto,
    TextEncoder,
    TextDecoder,
    URL,
    URLSearchParams,
    AbortController,
    setTimeout,
    clearTimeout,
    setInterval,
    clearInterval,
    queueMicrotask,
    structuredClone,
    performance: { now: () => performance.now(), timeOrigin: performance.timeOrigin }
  }
  const context = vm.createContext(globals)
  vm.runInContext("globalThis.self = globalThis; globalThis.window = globalThis", context)
  vm.runInContext(code, context, { filename: "core.browser.js" })
  return context as Record<string, unknown>
}
