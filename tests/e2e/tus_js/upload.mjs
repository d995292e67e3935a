// Upload one file with the stock tus-js-client, in 1 MiB chunks; print {"url": ...} on success.
// Usage: UPLOADKIT_API_KEY=uk_... node upload.mjs <endpoint> <file>
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import * as tus from "tus-js-client";

const [endpoint, path] = process.argv.slice(2);
const data = readFileSync(path);
const upload = new tus.Upload(data, {
  endpoint,
  chunkSize: 1024 * 1024,
  retryDelays: [0, 500],
  headers: { "x-api-key": process.env.UPLOADKIT_API_KEY },
  metadata: { filename: basename(path), filetype: "image/png", routeSlug: "files" },
  onError(error) {
    console.error(String(error));
    process.exit(1);
  },
  onSuccess() {
    console.log(JSON.stringify({ url: upload.url }));
  },
});
upload.start();
