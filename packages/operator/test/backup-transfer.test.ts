/** What `backup store|fetch|remove` say about a failed transfer: the cause, and what to check. */
import { describe, expect, it } from "@effect/vitest"
import { describe as describeFailure } from "../src/backup/transfer.js"

const named = (name: string, message: string) => Object.assign(new Error(message), { name })
const system = (code: string, message: string) => Object.assign(new Error(message), { code })

describe("a failed transfer, in one line", () => {
  it("names the S3 error and says which credential to check", () => {
    expect(describeFailure(named("SignatureDoesNotMatch", "The request signature we calculated does not match"))).toBe(
      "SignatureDoesNotMatch: The request signature we calculated does not match (the server refused the request's signature: check the secret access key in the credentials Secret)"
    )
    expect(describeFailure(named("InvalidAccessKeyId", "The access key ID you provided does not exist"))).toContain(
      "check the access key id in the credentials Secret"
    )
    expect(describeFailure(named("NoSuchBucket", "The specified bucket does not exist"))).toContain(
      "the bucket does not exist"
    )
  })
  it("names a refused connection by its code, also when the message is empty (an AggregateError of addresses)", () => {
    expect(describeFailure(system("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:9"))).toBe(
      "connect ECONNREFUSED 127.0.0.1:9 (nothing accepts connections at the endpoint: check the endpoint's host and port, and that it runs)"
    )
    const aggregate = Object.assign(new AggregateError([], ""), { code: "ECONNREFUSED" })
    expect(describeFailure(aggregate)).toMatch(/^AggregateError: ECONNREFUSED \(nothing accepts connections/)
  })
  it("passes anything else through", () => {
    expect(describeFailure(new Error("socket hang up"))).toBe("socket hang up")
    expect(describeFailure("plain")).toBe("plain")
  })
})
