// validate.mjs — validates an OpenAPI document with @apidevtools/swagger-parser
// (schema + semantic checks, $refs resolved). Usage: node validate.mjs FILE
import SwaggerParser from "@apidevtools/swagger-parser";

const file = process.argv[2];
try {
  const api = await SwaggerParser.validate(file);
  let ops = 0;
  for (const item of Object.values(api.paths)) ops += Object.keys(item).length;
  console.log(JSON.stringify({ valid: true, version: api.openapi, paths: Object.keys(api.paths).length, operations: ops }));
} catch (err) {
  console.error("INVALID: " + err.message);
  process.exit(1);
}
