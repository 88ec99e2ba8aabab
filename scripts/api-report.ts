/**
 * The API reports of the libraries: API Extractor reads each package's declarations and writes every exported name
 * with its signature to `packages/<name>/etc/<name>.api.md`. The reports are committed, so a change to a library's
 * public surface is a visible diff in review; `npm test` fails while a report is stale (test/release/api-report.test.ts),
 * and `npm run api-report` writes them anew. Each report covers its package's root entry alone: `core`'s
 * `@convex-operator/core/internal` is left out on purpose, since no version promise covers it (docs/library.md).
 *
 * The declarations are emitted afresh for each report, not taken from `dist/`: tsc prints the members of inferred
 * types (every Schema's) in the order it happened to check them, so an incremental build's `.d.ts` can list the same
 * type's fields in another order than a clean build's, and the report would differ without any API change.
 */
import { execFileSync } from "node:child_process"
import { mkdirSync, rmSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Extractor, ExtractorConfig, ExtractorLogLevel } from "@microsoft/api-extractor"

const root = fileURLToPath(new URL("..", import.meta.url))

/** The libraries whose surface is reported. */
export const reportedPackages = ["core", "k8s"] as const

export interface ApiReportResult {
  readonly name: string
  readonly report: string
  /** Whether the report on disk matches the declarations (always true after a local run, which rewrites it). */
  readonly upToDate: boolean
  readonly errors: ReadonlyArray<string>
}

/** Emits the declarations of `packages/<name>` from a clean start into `.cache/` (not under node_modules, which API
 * Extractor would take for another package); returns the folder. */
const freshDeclarations = (name: string): string => {
  const out = join(root, ".cache/api-extractor", name, "dts")
  rmSync(out, { recursive: true, force: true })
  const tsc = join(root, "node_modules/typescript/bin/tsc")
  const flags = ["--emitDeclarationOnly", "--declarationMap", "false", "--sourceMap", "false"]
  execFileSync(
    process.execPath,
    [
      tsc,
      "-p",
      join(root, "packages", name, "tsconfig.json"),
      ...flags,
      "--composite",
      "false",
      "--incremental",
      "false",
      "--outDir",
      out
    ],
    { stdio: ["ignore", "pipe", "pipe"] }
  )
  return out
}

/** Checks (or, with `write`, rewrites) the report of `packages/<name>`. */
export const apiReport = (name: (typeof reportedPackages)[number], write: boolean): ApiReportResult => {
  const projectFolder = join(root, "packages", name)
  const errors: Array<string> = []
  const declarations = freshDeclarations(name)
  if (write) mkdirSync(join(projectFolder, "etc"), { recursive: true })
  const config = ExtractorConfig.prepare({
    configObjectFullPath: join(projectFolder, "api-extractor.json"),
    packageJsonFullPath: join(projectFolder, "package.json"),
    configObject: {
      projectFolder,
      mainEntryPointFilePath: join(declarations, "index.d.ts"),
      compiler: { tsconfigFilePath: "<projectFolder>/tsconfig.json" },
      apiReport: {
        enabled: true,
        reportFileName: "<unscopedPackageName>",
        reportFolder: "<projectFolder>/etc/",
        reportTempFolder: join(root, "node_modules/.cache/api-extractor", name)
      },
      docModel: { enabled: false },
      dtsRollup: { enabled: false },
      tsdocMetadata: { enabled: false },
      messages: {
        // Doc-comment style (TSDoc) and "forgotten export" notes are not what the report is for.
        extractorMessageReporting: { default: { logLevel: ExtractorLogLevel.None } },
        tsdocMessageReporting: { default: { logLevel: ExtractorLogLevel.None } },
        compilerMessageReporting: { default: { logLevel: ExtractorLogLevel.Error } }
      }
    }
  })
  const result = Extractor.invoke(config, {
    localBuild: write,
    messageCallback: (message) => {
      if (message.logLevel === ExtractorLogLevel.Error) errors.push(message.text)
      message.handled = true
    }
  })
  return {
    name,
    report: config.reportFilePath,
    upToDate: result.succeeded && !result.apiReportChanged,
    errors
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const name of reportedPackages) {
    const result = apiReport(name, true)
    console.log(`${result.errors.length === 0 ? "wrote" : "failed"} ${result.report}`)
    for (const error of result.errors) console.error(`  ${error}`)
  }
}
