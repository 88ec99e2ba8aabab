/**
 * The Convex container images, their ports and data path. Convex tags both images with full 40-character git
 * SHAs (plus a moving `latest`), and the backend and dashboard must run the same tag.
 *
 * @module
 */

/** The repository of the backend image. */
export const backendImageRepository = "ghcr.io/get-convex/convex-backend"

/** The repository of the dashboard image. */
export const dashboardImageRepository = "ghcr.io/get-convex/convex-dashboard"

/** The backend image for `version` (an image tag), unless `override` names an image (an empty one does not). */
export const backendImage = (version: string, override?: string): string =>
  override !== undefined && override !== "" ? override : `${backendImageRepository}:${version}`

/** The dashboard image for `version` (an image tag), unless `override` names an image (an empty one does not). */
export const dashboardImage = (version: string, override?: string): string =>
  override !== undefined && override !== "" ? override : `${dashboardImageRepository}:${version}`

/**
 * The backend's port for everything: `/api/…`, the sync WebSocket, `/http/…` actions, `/version`,
 * `/metrics`, `/instance_name`.
 */
export const backendApiPort = 3210

/** The backend's site proxy port: any path `P` is forwarded to `3210/http/P` (HTTP actions at the root). */
export const backendSiteProxyPort = 3211

/** The dashboard's port. */
export const dashboardPort = 6791

/** Where the backend keeps everything (SQLite file, local storage, credentials): mount its volume here. */
export const backendDataPath = "/convex/data"

/** Whether `tag` is a full git commit SHA (40 lower-case hex characters), the form Convex tags releases with. */
export const isFullGitShaTag = (tag: string): boolean => /^[0-9a-f]{40}$/.test(tag)
