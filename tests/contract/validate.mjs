// Validate an exported asyncapi.json with the official AsyncAPI parser.
// Usage: node validate.mjs DIR   (prints a JSON summary; exit 1 on any error-level diagnostic)
import { readFile } from "node:fs/promises";
import path from "node:path";
import { Parser, DiagnosticSeverity } from "@asyncapi/parser";

const dir = process.argv[2];
if (!dir) {
  console.error("usage: node validate.mjs EXPORT_DIR");
  process.exit(2);
}
const source = await readFile(path.join(dir, "asyncapi.json"), "utf8");
const parser = new Parser();
const { document, diagnostics } = await parser.parse(source, { source: path.resolve(dir, "asyncapi.json") });
const severity = (d) => Object.keys(DiagnosticSeverity).find((k) => DiagnosticSeverity[k] === d.severity);
const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
const summary = {
  valid: document !== undefined && errors.length === 0,
  errors: errors.map((d) => ({ code: d.code, message: d.message, path: d.path.join("/") })),
  warnings: diagnostics
    .filter((d) => d.severity !== DiagnosticSeverity.Error)
    .map((d) => ({ severity: severity(d), code: d.code, message: d.message, path: d.path.join("/") })),
};
if (document) {
  summary.channels = document.channels().length;
  summary.operations = document.operations().length;
  summary.messages = document.components().messages().length;
  summary.replies = document.operations().filter((op) => op.reply() !== undefined).length;
  summary.addresses = document.channels().all().map((c) => c.address());
}
console.log(JSON.stringify(summary, null, 2));
process.exit(summary.valid ? 0 : 1);
