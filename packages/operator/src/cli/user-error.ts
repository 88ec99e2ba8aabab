/** A mistake the user can fix (a missing flag, an unreadable file): printed as one line, without a stack. */
import { Data } from "effect"

export class UserError extends Data.TaggedError("UserError")<{ readonly message: string }> {}
