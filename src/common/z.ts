/**
 * zod, as the tool uses it: `zod/mini`, the same library's tree-shakable
 * form (a tenth of the code of zod's classic API, which ships ~50 locales),
 * with one short English message per kind of problem. Schemas that need a
 * more precise message give their own. Every module imports it from here:
 * `import * as z from "../common/z.ts"`.
 *
 * Only named exports: a module that exported zod's namespace object as a
 * value would keep all of it in the bundle, its locales too.
 *
 * @module
 */
import { config, type core } from "zod/mini";

/** The message for an issue that its schema did not word itself. */
function message(issue: core.$ZodRawIssue): string {
  switch (issue.code) {
    case "invalid_type":
      return `expected ${issue.expected === "int" ? "a whole number" : issue.expected}`;
    case "too_small":
      if (issue.origin === "string" && issue.minimum === 1) return "must not be empty";
      if (issue.origin === "array") return `needs at least ${issue.minimum}`;
      return `must be ${issue.inclusive === false ? "above" : "at least"} ${issue.minimum}`;
    case "too_big":
      return `must be ${issue.inclusive === false ? "below" : "at most"} ${issue.maximum}`;
    case "invalid_value":
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "unrecognized_keys":
      return "unknown setting";
    default:
      return "invalid value";
  }
}

config({ customError: message });

export * from "zod/mini";
