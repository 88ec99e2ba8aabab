/**
 * The one Convex release every sample names (examples/, config/samples/, the chart's NOTES, docs/library.md):
 * `npm run generate` writes it into each sample's `version:` and Convex image tags, and the drift test fails when a
 * sample carries any other tag.
 *
 * Where it comes from: get-convex/convex-backend's `release` branch. Its workflow
 * `.github/workflows/release_self_hosted_images.yml` runs on every push to `release` and pushes
 * `ghcr.io/get-convex/convex-backend:<sha>` and `ghcr.io/get-convex/convex-dashboard:<sha>` for the pushed commit.
 * Commit 652b828b5129e6cdbcaa3c20efa8d116d09ff3bf was the head of `release` in the mirror read for this pin (that
 * mirror's newest commit is dated 2026-08-22), and carries the tag `precompiled-2026-08-22-652b828`; its commit date
 * is 2026-08-21 ("Release @convex-dev/ai-sdk-provider 0.1.0 (#56615)"). To move the pin: pick a newer head of
 * `release` (or a `precompiled-*` tag on it), check that both images exist (`docker manifest inspect
 * ghcr.io/get-convex/convex-backend:<sha>`), change `commit` and `date` here and run `npm run generate`.
 */
export const convexRelease = {
  commit: "652b828b5129e6cdbcaa3c20efa8d116d09ff3bf",
  date: "2026-08-21",
  source: "get-convex/convex-backend, head of the release branch, tag precompiled-2026-08-22-652b828"
} as const

/** A `version:` field (YAML or a TypeScript object) or a Convex image tag followed by a 40-character git SHA. */
const tagged = /(\bversion:\s*["']?|ghcr\.io\/get-convex\/convex-(?:backend|dashboard):)([0-9a-f]{40})\b/g

/** Every Convex version or image tag `text` names. */
export const convexTags = (text: string): ReadonlyArray<string> => [...text.matchAll(tagged)].map((m) => m[2] ?? "")

/** `text` with every Convex version and image tag set to the pinned release. */
export const pinConvexRelease = (text: string): string =>
  text.replace(tagged, (_match, prefix: string) => `${prefix}${convexRelease.commit}`)
