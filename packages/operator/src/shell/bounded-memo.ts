/**
 * A memo by string key that holds at most `limit` values and forgets them all when full: for values that are cheap
 * to compute again and keyed by something that stops being asked for (an old generation, an old schedule), so that
 * nothing has to remove them.
 */
export const boundedMemo = <A>(limit: number) => {
  const map = new Map<string, A>()
  return (key: string, compute: () => A): A => {
    if (map.has(key)) return map.get(key) as A
    if (map.size >= limit) map.clear()
    const value = compute()
    map.set(key, value)
    return value
  }
}
