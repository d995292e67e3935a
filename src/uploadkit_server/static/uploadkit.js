// uploadkit.js: browser uploads to an UploadKit server with a client token (ukct_…).
// Dependency-free ES module. Served by the server at /static/uploadkit.js.
//
//   import { upload } from "/static/uploadkit.js";
//   const job = upload(file, { token, route: "files" });
//   job.addEventListener("progress", (e) => console.log(e.detail.percent));
//   const stored = await job.done;     // the file record, as GET /api/v1/files/{id} returns it
//   job.cancel();                      // aborts the transfer (and the multipart upload)
//
// Files up to `multipartThreshold` bytes go in one presigned PUT; larger ones in parts
// (`concurrency` at a time, each retried `retries` times with backoff). A multipart upload that
// failed (network gone, tab closed) resumes: uploading the same file (name, size, modification
// time) to the same route again asks the server which parts it holds and sends only the rest,
// for as long as the server keeps the upload open. Set `resume: false` to always start afresh.

const DEFAULTS = {
  baseUrl: "",
  multipartThreshold: 64 * 1024 * 1024,
  concurrency: 4,
  retries: 3,
  metadata: undefined,
  resume: true,
};

const RESUME_PREFIX = "uploadkit:multipart:";

// Where a multipart upload in progress is remembered, so that it survives a failure or a reload.
function resumeStore() {
  try {
    return globalThis.localStorage || null;
  } catch {
    return null; // storage disabled (privacy settings): no resume across reloads
  }
}

function resumeKey(file, options) {
  return `${RESUME_PREFIX}${options.baseUrl}|${options.route}|${file.name}|${file.size}|${file.lastModified}`;
}

export class UploadError extends Error {
  constructor(message, { code = "UPLOAD_FAILED", status = 0, suggestion = null } = {}) {
    super(message);
    this.name = "UploadError";
    this.code = code;
    this.status = status;
    this.suggestion = suggestion;
  }
}

class Cancelled extends UploadError {
  constructor() {
    super("Upload cancelled", { code: "CANCELLED" });
  }
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(new Cancelled());
    }, { once: true });
  });
}

// One PUT of a body with upload progress (fetch cannot report it); resolves with the ETag.
// `headers`: what the ticket's `uploadHeaders` says the PUT must carry (on S3 a signed
// `If-None-Match: *`, and the checksum header of a checksummed upload).
function put(url, body, { contentType, headers = {}, signal, onProgress }) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    if (contentType) xhr.setRequestHeader("Content-Type", contentType);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => onProgress(event.loaded);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(body.size);
        resolve(xhr.getResponseHeader("ETag"));
      } else {
        reject(new UploadError(`Storage refused the bytes (HTTP ${xhr.status})`, {
          code: "STORAGE_ERROR",
          status: xhr.status,
        }));
      }
    };
    xhr.onerror = () => reject(new UploadError("Network error while sending bytes", { code: "NETWORK" }));
    xhr.onabort = () => reject(new Cancelled());
    signal.addEventListener("abort", () => xhr.abort(), { once: true });
    xhr.send(body);
  });
}

export class Upload extends EventTarget {
  constructor(file, options) {
    super();
    this.file = file;
    this.options = { ...DEFAULTS, ...options };
    if (!this.options.token) throw new UploadError("A client token is required", { code: "NO_TOKEN" });
    if (!this.options.route) throw new UploadError("A route is required", { code: "NO_ROUTE" });
    this.loaded = 0;
    this.fileId = null;
    this._controller = new AbortController();
    this._multipart = null;
    this.done = this._run();
    this.done.catch(() => {}); // listeners see "error"; an unobserved promise must not be loud
  }

  get total() {
    return this.file.size;
  }

  cancel() {
    this._controller.abort();
  }

  async _api(path, body, { method = "POST" } = {}) {
    const response = await fetch(this.options.baseUrl + "/api/v1" + path, {
      method,
      headers: {
        Authorization: `Bearer ${this.options.token}`,
        ...(body ? { "Content-Type": "application/json" } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
      signal: this._controller.signal,
    }).catch((error) => {
      throw this._controller.signal.aborted ? new Cancelled() : new UploadError(String(error), { code: "NETWORK" });
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = data.error || {};
      throw new UploadError(error.message || `HTTP ${response.status}`, {
        code: error.code || "HTTP_ERROR",
        status: response.status,
        suggestion: error.suggestion || null,
      });
    }
    return data;
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  _progress() {
    const total = this.total || 1;
    this._emit("progress", {
      loaded: this.loaded,
      total: this.total,
      percent: Math.min(100, Math.round((this.loaded / total) * 100)),
    });
  }

  async _run() {
    try {
      const stored = this.file.size > this.options.multipartThreshold
        ? await this._sendMultipart()
        : await this._sendSingle();
      this.loaded = this.total;
      this._progress();
      this._emit("complete", stored);
      return stored;
    } catch (error) {
      const failure = this._controller.signal.aborted ? new Cancelled() : error;
      if (this._multipart && failure instanceof Cancelled) {
        // Cancelled: free the parts already stored (best effort; the server expires them anyway).
        // Any other failure keeps them, so that uploading the same file again resumes.
        this._forget();
        const { fileId, uploadId } = this._multipart;
        fetch(this.options.baseUrl + "/api/v1/upload/multipart/abort", {
          method: "POST",
          headers: { Authorization: `Bearer ${this.options.token}`, "Content-Type": "application/json" },
          body: JSON.stringify({ fileId, uploadId }),
        }).catch(() => {});
      }
      this._emit(failure instanceof Cancelled ? "cancel" : "error", failure);
      throw failure;
    }
  }

  _request() {
    return {
      fileName: this.file.name || "blob",
      fileSize: this.file.size,
      contentType: this.file.type || "application/octet-stream",
      routeSlug: this.options.route,
      ...(this.options.metadata ? { metadata: this.options.metadata } : {}),
    };
  }

  async _sendSingle() {
    const ticket = await this._api("/upload/request", this._request());
    this.fileId = ticket.fileId;
    await this._withRetries(() => put(ticket.uploadUrl, this.file, {
      contentType: this.file.type || "application/octet-stream",
      headers: ticket.uploadHeaders || {},
      signal: this._controller.signal,
      onProgress: (loaded) => {
        this.loaded = Math.min(loaded, this.total - 1); // 100 % once the server has verified
        this._progress();
      },
    }));
    return this._api("/upload/complete", { fileId: ticket.fileId });
  }

  _forget() {
    resumeStore()?.removeItem(resumeKey(this.file, this.options));
  }

  // The multipart upload to continue: one remembered for this file whose parts the server still
  // lists, or a new one. Returns the ticket and the parts already stored.
  async _openMultipart() {
    const store = this.options.resume ? resumeStore() : null;
    const saved = store?.getItem(resumeKey(this.file, this.options));
    if (saved) {
      const { fileId, uploadId } = JSON.parse(saved);
      try {
        const query = `fileId=${encodeURIComponent(fileId)}&uploadId=${encodeURIComponent(uploadId)}`;
        const listing = await this._api(`/upload/multipart/parts?${query}`, null, { method: "GET" });
        this.resumed = true;
        return { ticket: { fileId, uploadId, partSize: listing.partSize, parts: [] }, stored: listing.parts };
      } catch (error) {
        if (error instanceof Cancelled) throw error;
        this._forget(); // expired, completed or aborted since: start afresh
      }
    }
    const ticket = await this._api("/upload/multipart/init", this._request());
    store?.setItem(resumeKey(this.file, this.options),
      JSON.stringify({ fileId: ticket.fileId, uploadId: ticket.uploadId }));
    return { ticket, stored: [] };
  }

  async _sendMultipart() {
    const { ticket, stored } = await this._openMultipart();
    this.fileId = ticket.fileId;
    this._multipart = { fileId: ticket.fileId, uploadId: ticket.uploadId };
    const partSize = ticket.partSize;
    const urls = new Map(ticket.parts.map((p) => [p.partNumber, p.uploadUrl]));
    const count = Math.ceil(this.file.size / partSize);
    const sent = new Array(count + 1).fill(0);
    const etags = [];
    const have = new Set();
    for (const part of stored) {
      const expected = Math.min(part.partNumber * partSize, this.file.size) - (part.partNumber - 1) * partSize;
      if (part.size !== expected) continue; // a part cut short is sent again
      have.add(part.partNumber);
      sent[part.partNumber] = part.size;
      etags.push({ partNumber: part.partNumber, etag: part.etag });
    }
    this.partsSent = 0;
    let next = 1;
    const worker = async () => {
      while (next <= count) {
        const number = next++;
        if (have.has(number)) continue;
        const blob = this.file.slice((number - 1) * partSize, Math.min(number * partSize, this.file.size));
        const etag = await this._withRetries(async () => {
          let url = urls.get(number);
          if (!url) {
            const signed = await this._api("/upload/multipart/sign-parts", {
              fileId: ticket.fileId, uploadId: ticket.uploadId, partNumbers: [number],
            });
            url = signed.parts[0].uploadUrl;
          }
          urls.delete(number); // a retry asks for a fresh URL
          return put(url, blob, {
            signal: this._controller.signal,
            onProgress: (loaded) => {
              sent[number] = loaded;
              this.loaded = Math.min(sent.reduce((a, b) => a + b, 0), this.total - 1);
              this._progress();
            },
          });
        });
        etags.push({ partNumber: number, etag });
        this.partsSent++;
      }
    };
    const workers = [];
    for (let i = 0; i < Math.min(this.options.concurrency, count); i++) workers.push(worker());
    await Promise.all(workers);
    etags.sort((a, b) => a.partNumber - b.partNumber);
    const done = await this._api("/upload/multipart/complete", {
      fileId: ticket.fileId, uploadId: ticket.uploadId, parts: etags,
    });
    this._multipart = null;
    this._forget();
    return done;
  }

  async _withRetries(attempt) {
    for (let tries = 0; ; tries++) {
      try {
        return await attempt();
      } catch (error) {
        const retryable = error.code === "NETWORK" || error.status >= 500;
        if (error instanceof Cancelled || !retryable || tries >= this.options.retries) throw error;
        await sleep(250 * 2 ** tries, this._controller.signal);
      }
    }
  }
}

export function upload(file, options) {
  return new Upload(file, options);
}

// <uploadkit-dropzone route="files" token="ukct_…" [base-url] [multipart-threshold] [multiple]>
// Drop or pick files; each gets a progress bar. Events: "uploadkit:complete" (detail: the file
// record), "uploadkit:error" (detail: the UploadError). Set the `token` property or attribute.
const STYLE = `
  :host { display: block; font: inherit; }
  .zone { border: 2px dashed #8a94a6; border-radius: 8px; padding: 1.5rem; text-align: center;
          cursor: pointer; background: #f8fafc; }
  .zone.over { border-color: #2563eb; background: #eff6ff; }
  ul { list-style: none; padding: 0; margin: .75rem 0 0; text-align: left; }
  li { margin: .4rem 0; }
  .name { display: flex; justify-content: space-between; gap: .5rem; font-size: .9rem; }
  progress { width: 100%; height: .8rem; }
  .error { color: #b91c1c; font-size: .85rem; }
  button { font: inherit; font-size: .8rem; }
`;

export class UploadKitDropzone extends HTMLElement {
  static get observedAttributes() {
    return ["token"];
  }

  constructor() {
    super();
    this.uploads = [];
    const root = this.attachShadow({ mode: "open" });
    root.innerHTML = `<style>${STYLE}</style>
      <div class="zone" part="zone" role="button" tabindex="0" aria-label="Drop files here or choose files">
        <slot>Drop files here or <u>choose files</u></slot>
        <input type="file" hidden aria-hidden="true">
      </div>
      <ul part="list" aria-live="polite"></ul>`;
    this._zone = root.querySelector(".zone");
    this._input = root.querySelector("input");
    this._list = root.querySelector("ul");
    this._zone.addEventListener("click", () => this._input.click());
    this._zone.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") this._input.click();
    });
    this._zone.addEventListener("dragover", (event) => {
      event.preventDefault();
      this._zone.classList.add("over");
    });
    this._zone.addEventListener("dragleave", () => this._zone.classList.remove("over"));
    this._zone.addEventListener("drop", (event) => {
      event.preventDefault();
      this._zone.classList.remove("over");
      this.addFiles(event.dataTransfer.files);
    });
    this._input.addEventListener("change", () => {
      this.addFiles(this._input.files);
      this._input.value = "";
    });
  }

  connectedCallback() {
    this._input.multiple = this.hasAttribute("multiple");
  }

  get token() {
    return this._token || this.getAttribute("token");
  }

  set token(value) {
    this._token = value;
  }

  addFiles(files) {
    for (const file of Array.from(files)) this._start(file);
  }

  _start(file) {
    const item = document.createElement("li");
    item.innerHTML = `<div class="name"><span></span><span class="percent">0%</span>
      <button type="button">Cancel</button></div><progress max="100" value="0"></progress>`;
    item.querySelector("span").textContent = file.name;
    this._list.append(item);
    const bar = item.querySelector("progress");
    const percent = item.querySelector(".percent");
    const button = item.querySelector("button");
    const threshold = this.getAttribute("multipart-threshold");
    const job = upload(file, {
      token: this.token,
      route: this.getAttribute("route"),
      baseUrl: this.getAttribute("base-url") || "",
      ...(threshold ? { multipartThreshold: Number(threshold) } : {}),
    });
    this.uploads.push(job);
    button.addEventListener("click", () => job.cancel());
    job.addEventListener("progress", (event) => {
      bar.value = event.detail.percent;
      percent.textContent = `${event.detail.percent}%`;
    });
    const finish = (text, cls) => {
      button.remove();
      const note = document.createElement("div");
      note.className = cls;
      note.textContent = text;
      item.append(note);
    };
    job.addEventListener("complete", (event) => {
      item.dataset.state = "complete";
      item.dataset.fileId = event.detail.id;
      finish("Uploaded", "done");
      this.dispatchEvent(new CustomEvent("uploadkit:complete", { detail: event.detail, bubbles: true }));
    });
    job.addEventListener("error", (event) => {
      item.dataset.state = "error";
      finish(event.detail.message, "error");
      this.dispatchEvent(new CustomEvent("uploadkit:error", { detail: event.detail, bubbles: true }));
    });
    job.addEventListener("cancel", () => {
      item.dataset.state = "cancelled";
      finish("Cancelled", "error");
    });
  }
}

if (typeof customElements !== "undefined" && !customElements.get("uploadkit-dropzone")) {
  customElements.define("uploadkit-dropzone", UploadKitDropzone);
}
