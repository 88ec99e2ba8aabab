/**
 * Looking up what was observed in the instance's namespace: owned children and referenced Secrets and
 * ConfigMaps. Secret values are decoded here and only ever used to wire, validate and hash; they are never
 * copied into a message.
 *
 * @module
 */
import { Either, Encoding } from "effect"
import { type KubeObject, objectKey } from "./objects.js"

/** Observed objects by kind and name, with decoded Secret and ConfigMap data. */
export interface ObservedIndex {
  /** The observed object of this kind and name. */
  readonly get: (kind: string, name: string) => KubeObject | undefined
  /** The decoded `data` (and `stringData`) of a Secret, or `undefined` when it was not observed. */
  readonly secretData: (name: string) => Readonly<Record<string, string>> | undefined
  /** The `data` of a ConfigMap, or `undefined` when it was not observed. */
  readonly configMapData: (name: string) => Readonly<Record<string, string>> | undefined
}

/**
 * Data maps have no prototype: a Secret key such as `__proto__` or `constructor` (both valid key names) is data,
 * never the object's prototype, and a missing key reads as `undefined`.
 */
const dataRecord = (): Record<string, string> => Object.create(null) as Record<string, string>

const stringRecord = (value: unknown): Record<string, string> => {
  const out = dataRecord()
  if (typeof value !== "object" || value === null) return out
  for (const [key, entry] of Object.entries(value)) if (typeof entry === "string") out[key] = entry
  return out
}

const decodeSecretData = (object: KubeObject): Record<string, string> => {
  const out = dataRecord()
  for (const [key, encoded] of Object.entries(stringRecord(object.data))) {
    const decoded = Encoding.decodeBase64String(encoded)
    // A value that is not base64 cannot come from the apiserver; it is treated as absent.
    if (Either.isRight(decoded)) out[key] = decoded.right
  }
  return Object.assign(out, stringRecord(object.stringData))
}

/** Indexes observed objects by `kind/name` (the last one wins when an object appears twice). */
export const indexObserved = (objects: ReadonlyArray<KubeObject>): ObservedIndex => {
  const byKey = new Map<string, KubeObject>()
  for (const object of objects) byKey.set(objectKey(object), object)
  const get = (kind: string, name: string) => byKey.get(`${kind}/${name}`)
  return {
    get,
    secretData: (name) => {
      const secret = get("Secret", name)
      return secret === undefined ? undefined : decodeSecretData(secret)
    },
    configMapData: (name) => {
      const configMap = get("ConfigMap", name)
      return configMap === undefined ? undefined : stringRecord(configMap.data)
    }
  }
}

/** Base64 of a UTF-8 string, as a Secret's `data` holds it. */
export const toBase64 = (value: string): string => Encoding.encodeBase64(value)
