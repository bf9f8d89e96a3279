/*
 * Lets a child process run the TypeScript sources as they are, without a build: `node -r
 * ./test/support/registerTs.js file.ts`. Each .ts file is transpiled when required (no type check:
 * tsc and jest do that), as ts-jest does for the tests themselves.
 */
const fs = require('node:fs');
const ts = require('typescript');

require.extensions['.ts'] = (module, filename) => {
  const source = fs.readFileSync(filename, 'utf8');
  const { outputText } = ts.transpileModule(source, {
    fileName: filename,
    compilerOptions: {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2022,
      esModuleInterop: true,
      resolveJsonModule: true,
      inlineSourceMap: true,
    },
  });
  module._compile(outputText, filename);
};
