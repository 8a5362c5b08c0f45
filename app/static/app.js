// synthrag page: streamed answers with clickable citations, and plain search. No build step.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const MARKER = /\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]/g;
  let citations = new Map();

  function setStatus(text) {
    $("status").textContent = text;
  }

  function showError(message) {
    const box = $("error");
    box.textContent = message || "";
    box.hidden = !message;
  }

  // The message of a non-2xx response: the API's {"error": {"message"}} body, 429 as "busy".
  async function errorMessage(response) {
    if (response.status === 429) {
      const retry = response.headers.get("Retry-After") || "a few";
      return `The server is busy, retry in ${retry} s.`;
    }
    let message = `${response.status} ${response.statusText}`.trim();
    try {
      const body = await response.json();
      if (body && body.error && body.error.message) message = `${message}: ${body.error.message}`;
    } catch (_) {
      // not JSON: keep the status line
    }
    return message;
  }

  // One SSE message block -> {event, data} (data lines joined; comments ignored).
  function parseBlock(block) {
    let event = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
    return data.length ? { event, data: data.join("\n") } : null;
  }

  // Server-Sent Events from a fetch() response body (EventSource cannot POST).
  async function* sseEvents(response) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
      buffer = buffer.replace(/\r\n/g, "\n");
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const message = parseBlock(buffer.slice(0, cut));
        buffer = buffer.slice(cut + 2);
        if (message) yield message;
      }
      if (done) {
        const message = parseBlock(buffer);
        if (message) yield message;
        return;
      }
    }
  }

  function where(item) {
    return item.source + (item.page ? `, page ${item.page}` : "");
  }

  function citationButton(number, className) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = className;
    button.dataset.number = String(number);
    button.textContent = `[${number}]`;
    const cited = citations.get(number);
    button.setAttribute("aria-label", `Show quote of source ${number}${cited ? ": " + where(cited) : ""}`);
    button.addEventListener("click", () => showQuote(number));
    return button;
  }

  function showQuote(number) {
    const cited = citations.get(number);
    const panel = $("quote");
    if (!cited) return;
    const heading = document.createElement("h3");
    heading.textContent = `[${number}] ${where(cited)}`;
    const children = [heading];
    if (cited.title && cited.title !== cited.source) {
      const title = document.createElement("p");
      title.className = "title";
      title.textContent = cited.title;
      children.push(title);
    }
    const quote = document.createElement("blockquote");
    quote.textContent = cited.quote;
    children.push(quote);
    panel.replaceChildren(...children);
    panel.hidden = false;
  }

  // The final answer: text with each [n] marker as a button, then the numbered sources.
  function renderFinal(final) {
    citations = new Map((final.citations || []).map((c) => [c.number, c]));
    const answer = $("answer");
    answer.replaceChildren();
    answer.classList.toggle("refused", Boolean(final.refused));
    let last = 0;
    for (const match of final.answer.matchAll(MARKER)) {
      answer.append(final.answer.slice(last, match.index));
      for (const part of match[1].split(",")) {
        const number = parseInt(part.trim(), 10);
        answer.append(citations.has(number) ? citationButton(number, "citation") : `[${number}]`);
      }
      last = match.index + match[0].length;
    }
    answer.append(final.answer.slice(last));

    const list = $("sources");
    list.replaceChildren();
    for (const cited of citations.values()) {
      const item = document.createElement("li");
      item.append(citationButton(cited.number, "source-link"), " ", where(cited));
      if (cited.title && cited.title !== cited.source) item.append(` — ${cited.title}`);
      list.append(item);
    }
    $("sources-box").hidden = citations.size === 0;
  }

  // Every API call carries the key typed into the page, if any.
  function authHeaders(extra) {
    const key = $("api-key").value.trim();
    return key ? { ...extra, Authorization: `Bearer ${key}` } : { ...extra };
  }

  async function ask(question) {
    const answer = $("answer");
    const button = $("ask-btn");
    showError("");
    citations = new Map();
    answer.replaceChildren();
    answer.classList.remove("refused");
    $("sources").replaceChildren();
    $("sources-box").hidden = true;
    $("quote").hidden = true;
    button.disabled = true;
    answer.setAttribute("aria-busy", "true");
    setStatus("streaming…");
    try {
      const response = await fetch("/v1/answer", {
        method: "POST",
        headers: authHeaders({ "Content-Type": "application/json", Accept: "text/event-stream" }),
        body: JSON.stringify({ question, stream: true }),
      });
      if (!response.ok) {
        showError(await errorMessage(response));
        setStatus("failed");
        return;
      }
      for await (const message of sseEvents(response)) {
        const data = JSON.parse(message.data);
        if (message.event === "token") {
          answer.append(data.text);
        } else if (message.event === "final") {
          renderFinal(data);
          setStatus("done");
          return;
        } else if (message.event === "error") {
          showError((data.error && data.error.message) || "generation failed");
          setStatus("failed");
          return;
        }
      }
      showError("The answer stream ended before the final event.");
      setStatus("failed");
    } catch (err) {
      showError(`Request failed: ${err.message}`);
      setStatus("failed");
    } finally {
      button.disabled = false;
      answer.setAttribute("aria-busy", "false");
    }
  }

  async function search(query) {
    const results = $("results");
    const button = $("search-btn");
    showError("");
    results.replaceChildren();
    button.disabled = true;
    try {
      const response = await fetch("/v1/search", {
        method: "POST",
        headers: authHeaders({ "Content-Type": "application/json" }),
        body: JSON.stringify({ query, k: 10 }),
      });
      if (!response.ok) {
        showError(await errorMessage(response));
        return;
      }
      const body = await response.json();
      if (!body.hits.length) {
        const empty = document.createElement("li");
        empty.className = "empty";
        empty.textContent = "No results.";
        results.append(empty);
      }
      for (const hit of body.hits) {
        const item = document.createElement("li");
        const meta = document.createElement("div");
        meta.className = "meta";
        meta.textContent = `${where(hit)} · score ${hit.score.toFixed(3)}`;
        const text = document.createElement("p");
        text.textContent = hit.text;
        item.append(meta, text);
        results.append(item);
      }
    } catch (err) {
      showError(`Request failed: ${err.message}`);
    } finally {
      button.disabled = false;
    }
  }

  function uploadLine(name) {
    const item = document.createElement("li");
    item.className = "upload";
    item.textContent = `${name}: uploading…`;
    $("uploads").append(item);
    return item;
  }

  async function followJob(item, name, jobId) {
    for (;;) {
      const response = await fetch(`/v1/jobs/${jobId}`, { headers: authHeaders({}) });
      if (!response.ok) {
        item.textContent = `${name}: ${await errorMessage(response)}`;
        return;
      }
      const job = await response.json();
      const progress = job.progress.chunks_total ? ` (${job.progress.chunks_done}/${job.progress.chunks_total} chunks)` : "";
      item.textContent = `${name}: ${job.state}, ${job.stage}${progress}`;
      item.dataset.state = job.state;
      if (job.state === "done" || job.state === "failed" || job.state === "cancelled") {
        if (job.error) item.textContent += ` — ${job.error}`;
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 700));
    }
  }

  async function upload(files) {
    const button = $("upload-btn");
    showError("");
    button.disabled = true;
    const form = new FormData();
    for (const file of files) form.append("files", file, file.name);
    const lines = Array.from(files, (file) => uploadLine(file.name));
    try {
      const response = await fetch("/v1/documents", { method: "POST", headers: authHeaders({}), body: form });
      if (!response.ok) {
        const message = await errorMessage(response);
        for (const line of lines) line.textContent = `${line.textContent.split(":")[0]}: rejected`;
        showError(message);
        return;
      }
      const body = await response.json();
      await Promise.all(
        body.results.map((result, i) => {
          const line = lines[i];
          if (result.duplicate) {
            line.textContent = `${result.source}: already uploaded (${result.status})`;
            line.dataset.state = "done";
            return Promise.resolve();
          }
          return followJob(line, result.source, result.job_id);
        }),
      );
    } catch (err) {
      showError(`Upload failed: ${err.message}`);
    } finally {
      button.disabled = false;
    }
  }

  const savedKey = window.localStorage.getItem("synthrag-api-key");
  if (savedKey) $("api-key").value = savedKey;
  $("api-key").addEventListener("change", () => {
    window.localStorage.setItem("synthrag-api-key", $("api-key").value.trim());
  });
  $("upload-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const files = $("upload-files").files;
    if (files.length) upload(files);
  });
  $("ask-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const question = $("question").value.trim();
    if (question) ask(question);
  });
  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const query = $("search-query").value.trim();
    if (query) search(query);
  });
})();
