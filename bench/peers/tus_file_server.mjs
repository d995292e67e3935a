// The Node tus reference server (@tus/server + @tus/file-store) for bench/ingest_vs_peers.py:
//   node tus_file_server.mjs PORT DIRECTORY
import { Server } from "@tus/server";
import { FileStore } from "@tus/file-store";

const [port, directory] = process.argv.slice(2);
const server = new Server({ path: "/files", datastore: new FileStore({ directory }) });
server.listen({ host: "127.0.0.1", port: Number(port) }, () => {
  console.log(`listening on ${port}`);
});
