/**
 * What convex-operator knows about Convex itself: admin keys, instance secrets and names, database URLs,
 * images and ports. Everything here is pure and deterministic; randomness comes from the `SecretGenerator`
 * service and time from Effect's `Clock`.
 *
 * @module
 */
export * from "./admin-key.js"
export * from "./database-url.js"
export * from "./images.js"
export * from "./instance-name.js"
export * from "./instance-secret.js"
export * from "./random.js"
