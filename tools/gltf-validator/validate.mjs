// The Khronos glTF Validator on one .glb: prints its report's issues as JSON on stdout
// (tests/test_export_gltf.py reads it). Usage: node validate.mjs FILE.glb
import { readFile } from "node:fs/promises";
import validator from "gltf-validator";

const path = process.argv[2];
const data = new Uint8Array(await readFile(path));
const report = await validator.validateBytes(data, { maxIssues: 0, uri: path });
console.log(JSON.stringify({ validatorVersion: report.validatorVersion, issues: report.issues, info: report.info }));
