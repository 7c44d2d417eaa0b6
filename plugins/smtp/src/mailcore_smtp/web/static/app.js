// The preview UI. Message data is only ever put in the page with textContent,
// attributes set through the DOM, or the sandboxed iframe: never parsed as HTML here.
"use strict";

const state = { selected: null, message: null, tab: null };
const $ = (selector) => document.querySelector(selector);

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function humanSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function formatTime(iso) {
  const when = new Date(iso);
  return Number.isNaN(when.getTime()) ? iso : when.toLocaleString();
}

function shortTime(iso) {
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return iso;
  const today = new Date().toDateString() === when.toDateString();
  return today ? when.toLocaleTimeString() : when.toLocaleDateString();
}

function messageUrl(id, suffix = "") {
  return `/api/messages/${encodeURIComponent(id)}${suffix}`;
}

async function api(path, options) {
  const response = await fetch(path, options);
  if (!response.ok) throw new Error(`${response.status} ${response.statusText} for ${path}`);
  return response;
}

function row(message) {
  const tr = element("tr", null, "message");
  tr.dataset.id = message.id;
  const to = Array.isArray(message.to) ? message.to.join(", ") : String(message.to);
  const cells = [message.from, to, message.subject || "(no subject)", shortTime(message.date),
    humanSize(message.size), message.attachments ? String(message.attachments) : ""];
  const names = ["from", "to", "subject", "time", "size", "attachments"];
  cells.forEach((text, i) => {
    const td = element("td", text, names[i]);
    td.title = i === 5 ? (message.attachments ? `${message.attachments} attachment(s)` : "")
      : i === 3 ? formatTime(message.date) : String(text);
    tr.append(td);
  });
  if (message.id === state.selected) tr.classList.add("selected");
  tr.addEventListener("click", () => openMessage(message.id));
  return tr;
}

function updateCount() {
  const rows = $("#list").children.length;
  $("#count").textContent = `${rows} message${rows === 1 ? "" : "s"}`;
  $("#empty").hidden = rows > 0;
}

async function loadList() {
  const query = $("#search").value.trim();
  const params = new URLSearchParams({ limit: "500" });
  if (query) params.set("q", query);
  const data = await (await api(`/api/messages?${params}`)).json();
  $("#list").replaceChildren(...data.messages.map(row));
  updateCount();
}

function showTab(name) {
  state.tab = name;
  for (const button of document.querySelectorAll("#tabs button")) {
    button.classList.toggle("active", button.dataset.tab === name);
  }
  for (const pane of document.querySelectorAll(".pane")) {
    pane.classList.toggle("active", pane.id === `pane-${name}`);
  }
  if (name === "raw" && state.message && $("#raw").dataset.id !== state.message.id) loadRaw();
}

async function loadRaw() {
  const id = state.message.id;
  const text = await (await api(messageUrl(id, "/raw"))).text();
  if (state.message && state.message.id === id) {
    $("#raw").textContent = text;
    $("#raw").dataset.id = id;
  }
}

function setHtmlFrame(id, remote) {
  $("#html-frame").src = messageUrl(id, remote ? "/html?remote=1" : "/html");
  $("#load-remote").disabled = remote;
}

async function openMessage(id) {
  state.selected = id;
  for (const tr of $("#list").children) tr.classList.toggle("selected", tr.dataset.id === id);
  let message;
  try {
    message = await (await api(messageUrl(id))).json();
  } catch (error) {
    closeView();
    return;
  }
  if (state.selected !== id) return;
  state.message = message;
  $("#view").hidden = false;
  $("#subject").textContent = message.subject || "(no subject)";
  $("#from").textContent = message.from;
  $("#to").textContent = (message.to || []).join(", ");
  const cc = (message.cc || []).join(", ");
  $("#cc").textContent = cc;
  $("#cc").hidden = !cc;
  $("#cc-label").hidden = !cc;
  $("#date").textContent = message.header_date || formatTime(message.date);
  $("#envelope-from").textContent = `<${message.envelope.mail_from}>`;
  $("#envelope-to").textContent = message.envelope.rcpt_tos.map((r) => `<${r}>`).join(", ");
  $("#problems").hidden = message.problems.length === 0;
  $("#problems").textContent = message.problems.length
    ? `${message.raw_only ? "Shown as raw" : "Note"}: ${message.problems.join("; ")}` : "";
  $("#text").textContent = message.text ?? "(no text part)";
  $("#raw").textContent = "";
  delete $("#raw").dataset.id;
  $("#raw-download").href = messageUrl(id, "/raw?download=1");
  const headers = $("#headers");
  headers.replaceChildren(...message.headers.map(([name, value]) => {
    const tr = element("tr");
    tr.append(element("td", name), element("td", value));
    return tr;
  }));
  $("#attachment-count").textContent = message.attachments.length ? `(${message.attachments.length})` : "";
  $("#attachments").replaceChildren(...message.attachments.map((attachment) => {
    const li = element("li");
    const link = element("a", attachment.filename, "attachment");
    link.href = messageUrl(id, `/attachments/${attachment.index}`);
    link.setAttribute("download", attachment.filename);
    li.append(link, element("span",
      ` ${attachment.content_type}, ${humanSize(attachment.size)}${attachment.inline ? ", inline" : ""}`));
    return li;
  }));
  if (message.attachments.length === 0) $("#attachments").append(element("li", "No attachments."));
  setHtmlFrame(id, false);
  const tab = message.raw_only ? "raw" : message.html !== null ? "html" : "text";
  showTab(tab);
}

function closeView() {
  state.selected = null;
  state.message = null;
  $("#view").hidden = true;
  $("#html-frame").src = "about:blank";
}

function listen() {
  const events = new EventSource("/api/events");
  events.addEventListener("open", () => $("#live").classList.add("on"));
  events.addEventListener("error", () => $("#live").classList.remove("on"));
  events.addEventListener("new", (event) => {
    const message = JSON.parse(event.data);
    if ($("#search").value.trim()) {
      loadList();
      return;
    }
    const tr = row(message);
    tr.classList.add("fresh");
    $("#list").prepend(tr);
    updateCount();
  });
  events.addEventListener("deleted", (event) => {
    const { id } = JSON.parse(event.data);
    for (const tr of $("#list").children) if (tr.dataset.id === id) tr.remove();
    if (state.selected === id) closeView();
    updateCount();
  });
  events.addEventListener("loaded", () => loadList());
  events.addEventListener("cleared", () => {
    $("#list").replaceChildren();
    closeView();
    updateCount();
  });
}

function start() {
  let timer = null;
  $("#search").addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(loadList, 150);
  });
  for (const button of document.querySelectorAll("#tabs button")) {
    button.addEventListener("click", () => showTab(button.dataset.tab));
  }
  $("#load-remote").addEventListener("click", () => {
    if (state.message) setHtmlFrame(state.message.id, true);
  });
  $("#delete").addEventListener("click", async () => {
    if (state.message) await api(messageUrl(state.message.id), { method: "DELETE" });
  });
  $("#delete-all").addEventListener("click", async () => {
    const rows = $("#list").children.length;
    if (!window.confirm(`Delete all ${rows} message(s)? Saved files are deleted too.`)) return;
    await api("/api/messages", { method: "DELETE" });
  });
  listen();
  loadList();
}

start();
