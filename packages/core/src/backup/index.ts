/**
 * Backups and restores as pure logic: cron schedules (UTC), missed runs, retention, the interlock with upgrades
 * and restores, and the decisions of the ConvexBackup and ConvexScheduledBackup controllers.
 *
 * @module
 */
export * from "./decide-backup.js"
export * from "./decide-schedule.js"
export * from "./interlock.js"
export * from "./job-failure.js"
export * from "./restore.js"
export * from "./retention.js"
export * from "./schedule.js"
