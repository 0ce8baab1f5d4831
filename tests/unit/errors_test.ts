import assert from "node:assert/strict";
import * as errors from "../../src/common/errors.ts";

Deno.test("every error the tool reports carries its exit code and cause", () => {
  const cause = new Error("underneath");
  const made: [errors.WgReinstateError, number][] = [
    [new errors.ConfigError("c", { cause }), 2],
    [new errors.WgError("failed", "w", { cause }), 1],
    [new errors.KeyFileError("k", { cause }), 1],
    [new errors.RuntimeError("r", { cause }), 1],
    [new errors.UnsafePathError("u", { cause }), 2],
  ];
  for (const [error, code] of made) {
    assert.ok(error instanceof errors.WgReinstateError, error.name);
    assert.strictEqual(error.exitCode, code, error.name);
    assert.strictEqual(error.cause, cause, error.name);
  }
  // Every class the module exports is covered above, or is the parse error.
  const classes = Object.entries(errors).filter(([, v]) => typeof v === "function").map(([k]) => k);
  assert.deepStrictEqual(
    classes.sort(),
    [
      "ConfigError",
      "KeyFileError",
      "ParseError",
      "RuntimeError",
      "UnsafePathError",
      "WgError",
      "WgReinstateError",
    ],
  );
});

Deno.test("ParseError is a SyntaxError that carries its position", () => {
  const error = new errors.ParseError({ source: "x.conf", line: 3, field: "PublicKey" }, "bad");
  assert.ok(error instanceof SyntaxError);
  assert.strictEqual(error.message, "x.conf:3: PublicKey: bad");
  assert.deepStrictEqual(error.position, { source: "x.conf", line: 3, field: "PublicKey" });
  assert.strictEqual(new errors.ParseError({ source: "y", line: 1 }, "z").message, "y:1: z");
});
