import react from "@vitejs/plugin-react";
import { defaultClientConditions, defineConfig } from "vite";

// Built into dist/, which `regent server start` serves at / (the API is on the same origin at /graphql).
// `npm run dev -w @regent/ui` serves the UI with hot reload and sends /graphql to a server on :4200.
export default defineConfig({
  plugins: [react()],
  // The workspace packages' TypeScript sources, as the rest of the repo reads them.
  resolve: { conditions: ["@regent/source", ...defaultClientConditions] },
  build: { outDir: "dist", emptyOutDir: true, sourcemap: true, chunkSizeWarningLimit: 600 },
  server: { proxy: { "/graphql": "http://127.0.0.1:4200" } },
});
