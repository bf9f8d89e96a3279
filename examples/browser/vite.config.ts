import { defineConfig } from 'vite';

export default defineConfig({
  build: {
    // Beside the node examples' output, under the repository's git-ignored dist/.
    outDir: '../../dist/examples/browser',
    emptyOutDir: true,
    target: 'es2022',
  },
  // 127.0.0.1 and a strict port: the origin must be exactly the one HEARTH_CORS_ORIGINS lists, so a
  // busy port is an error rather than a silent move to an origin the server refuses.
  server: { host: '127.0.0.1', port: 5173, strictPort: true },
  preview: { host: '127.0.0.1', port: 4173, strictPort: true },
});
