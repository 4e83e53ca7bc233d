// Loreweave console: the live parts of server-rendered pages. Plain ES module, no build step.
const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));
const typing = (el) => el && (el.isContentEditable || ["INPUT", "SELECT", "TEXTAREA"].includes(el.tagName));

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value ?? "");
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child !== null && child !== undefined && child !== "") node.append(child);
  return node;
}

// One row of the story; the same markup as templates/_row.html.
export function renderRow(item) {
  const who = [];
  if (item.npc) who.push(item.npc);
  if (item.npc && item.player) who.push(" → ");
  if (item.player) who.push(item.player);
  const whoSpan = el("span", { class: "who" }, who.join(""));
  if (item.region) whoSpan.append(" ", el("span", { class: "where" }, "@" + item.region));
  let tier = null;
  if (item.tier) {
    const fell = item.fallback ? ` · fell back: ${item.fallback}` : "";
    tier = el("span", { class: `tier tier-${item.fallback ? "fallback" : item.tier}`,
      title: item.fallback ? `fell back: ${item.fallback}` : `written by ${item.tier}` }, item.tier + fell);
  }
  return el("li", { class: `row kind-${item.kind} new`, tabindex: "-1", "data-id": item.id, "data-ts": String(item.ts_us),
      "data-kind": item.kind, "data-region": item.region, "data-npc": item.npc, "data-player": item.player },
    el("time", { datetime: new Date(item.ts_us / 1000).toISOString() }, item.clock),
    el("span", { class: "badge" }, item.kind + (item.label ? ` · ${item.label}` : "")),
    whoSpan, el("span", { class: "text" }, item.text), tier,
    el("a", { class: "why", href: `/why/${item.id}` }, "why?"));
}

function globalKeys() {
  const sections = { "1": "/story", "2": "/lore", "3": "/npcs", "4": "/ops" };
  const help = $(".help-toggle");
  const keys = $("#keys");
  help?.addEventListener("click", () => {
    keys.hidden = !keys.hidden;
    help.setAttribute("aria-expanded", String(!keys.hidden));
  });
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    if (sections[event.key]) { location.href = sections[event.key]; event.preventDefault(); }
    else if (event.key === "?") { help?.click(); event.preventDefault(); }
    else if (event.key === "/") {
      const target = $("input[type=search]") || $("#f-region");
      if (target) { target.focus(); event.preventDefault(); }
    }
  });
}

class Story {
  constructor() {
    this.list = $("#story");
    this.panel = $("#why");
    this.status = $("#status");
    this.pendingBadge = $("#pending");
    this.pauseButton = $("#pause");
    this.paused = false;
    this.pending = [];
    this.seen = new Set($$(".row", this.list).map((row) => row.dataset.id));
    this.filters = Object.fromEntries(["region", "npc", "player", "kind"].map((name) => [name, $(`#f-${name}`)]));
    for (const select of Object.values(this.filters)) select.addEventListener("change", () => this.applyFilters());
    this.pauseButton.addEventListener("click", () => this.togglePause());
    $("#older").addEventListener("click", () => this.loadOlder());
    this.list.addEventListener("click", (event) => this.onClick(event));
    this.panel.addEventListener("click", (event) => this.onClick(event));
    document.addEventListener("keydown", (event) => this.onKey(event));
    this.connect();
    this.tabStop();
  }

  // One row is reachable by Tab (the focused one, else the newest); arrows move from there.
  tabStop() {
    const rows = this.visibleRows();
    if (rows.length && !rows.some((row) => row.tabIndex === 0)) rows[0].tabIndex = 0;
  }

  connect() {
    const since = this.list.dataset.seq || "0";
    this.source = new EventSource(`/api/stream?since=${since}`);
    this.source.addEventListener("open", () => { this.status.textContent = "live"; this.status.dataset.state = "live"; });
    this.source.addEventListener("error", () => { this.status.textContent = "reconnecting…"; this.status.dataset.state = "down"; });
    this.source.addEventListener("story", (event) => {
      this.list.dataset.seq = event.lastEventId;
      this.receive(JSON.parse(event.data));
    });
    this.source.addEventListener("context", (event) => this.showContext(JSON.parse(event.data)));
  }

  receive(item) {
    if (this.seen.has(item.id)) return;
    this.seen.add(item.id);
    this.addOptions(item);
    if (this.paused) {
      this.pending.push(item);
      this.pendingBadge.hidden = false;
      this.pendingBadge.textContent = `${this.pending.length} new while paused`;
      return;
    }
    this.insert(item);
  }

  insert(item) {
    const row = renderRow(item);
    row.hidden = !this.matches(row);
    this.list.prepend(row);
    setTimeout(() => row.classList.remove("new"), 1500);
    while (this.list.children.length > 3000) this.list.lastElementChild.remove();
    this.tabStop();
  }

  addOptions(item) {
    for (const name of ["region", "npc", "player"]) {
      const value = item[name];
      const select = this.filters[name];
      if (value && !$$("option", select).some((o) => o.value === value)) select.append(el("option", {}, value));
    }
  }

  matches(row) {
    return Object.entries(this.filters).every(([name, select]) => !select.value || row.dataset[name] === select.value);
  }

  applyFilters() {
    for (const row of $$(".row", this.list)) {
      row.hidden = !this.matches(row);
      if (row.hidden) row.tabIndex = -1;
    }
    this.tabStop();
  }

  togglePause() {
    this.paused = !this.paused;
    this.pauseButton.setAttribute("aria-pressed", String(this.paused));
    this.pauseButton.firstChild.textContent = this.paused ? "Resume " : "Pause ";
    if (!this.paused) {
      for (const item of this.pending) this.insert(item);
      this.pending = [];
      this.pendingBadge.hidden = true;
    }
  }

  async loadOlder() {
    const rows = $$(".row", this.list);
    const oldest = rows.length ? rows[rows.length - 1].dataset.ts : String(Date.now() * 1000);
    const response = await fetch(`/api/story?before_us=${oldest}&limit=100`);
    const { items } = await response.json();
    for (const item of items.reverse()) {
      if (this.seen.has(item.id)) continue;
      this.seen.add(item.id);
      this.addOptions(item);
      const row = renderRow(item);
      row.classList.remove("new");
      row.hidden = !this.matches(row);
      this.list.append(row);
    }
  }

  showContext(context) {
    $("#tod").textContent = context.time_of_day || "time of day unknown";
    const list = $("#regions");
    list.replaceChildren(...context.regions.map((r) => {
      const item = el("li", { "data-region": r.region, title: r.ambience || "" }, el("strong", {}, r.name), " " + (r.weather || "—"));
      return item;
    }));
  }

  visibleRows() { return $$(".row", this.list).filter((row) => !row.hidden); }

  move(step) {
    const rows = this.visibleRows();
    if (!rows.length) return;
    const index = rows.indexOf(document.activeElement);
    const next = rows[Math.min(rows.length - 1, Math.max(0, index < 0 ? 0 : index + step))];
    for (const row of rows) row.tabIndex = -1;
    next.tabIndex = 0;
    next.focus();
  }

  onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    if (event.key === "j" || event.key === "ArrowDown") { this.move(1); event.preventDefault(); }
    else if (event.key === "k" || event.key === "ArrowUp") { this.move(-1); event.preventDefault(); }
    else if (event.key === "p") { this.togglePause(); event.preventDefault(); }
    else if (event.key === "Enter" && event.target.classList?.contains("row")) { this.why(event.target.dataset.id); event.preventDefault(); }
    else if (event.key === "Escape") { this.closeWhy(); }
  }

  onClick(event) {
    const link = event.target.closest("a.why, a.fid");
    if (link) { event.preventDefault(); this.why(link.getAttribute("href").split("/").pop()); return; }
    const row = event.target.closest(".row");
    if (row && event.currentTarget === this.list) { this.why(row.dataset.id); }
  }

  async why(frameId) {
    this.returnTo = document.activeElement;
    this.returnToId = document.activeElement?.dataset?.id;
    for (const row of $$(".row.selected", this.list)) row.classList.remove("selected");
    $(`.row[data-id="${CSS.escape(frameId)}"]`, this.list)?.classList.add("selected");
    this.panel.setAttribute("aria-busy", "true");
    const response = await fetch(`/why/${encodeURIComponent(frameId)}?fragment=1`);
    this.panel.innerHTML = await response.text();  // server-rendered, escaped by the template engine
    this.panel.removeAttribute("aria-busy");
    this.panel.dataset.frame = frameId;
    this.panel.focus();
  }

  closeWhy() {
    if (!this.panel.dataset.frame) return;
    delete this.panel.dataset.frame;
    this.panel.replaceChildren(el("p", { class: "hint" }, "Choose an event to see what caused it and what it caused."));
    // The row may have been drawn again meanwhile (live rows): find it by id then.
    const back = this.returnTo?.isConnected ? this.returnTo
      : (this.returnToId ? $(`.row[data-id="${CSS.escape(this.returnToId)}"]`, this.list) : null);
    back?.focus();
  }
}

globalKeys();
if ($("#story")) window.loreweaveStory = new Story();
