/** The field manager of every write. */
export const fieldManager = "convex-operator"
