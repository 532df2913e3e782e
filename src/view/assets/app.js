// The viewer's client: filters, sorting and paging without page reloads, keyboard row navigation, and live updates over server-sent events.
// Every page works without it: forms are GET forms and rows are links. Markup always comes from the server, already escaped.

const main = document.getElementById("main");
const page = main ? main.dataset.page : null;
const liveBox = document.getElementById("live");

/** The region a page refreshes: the results of the list, the charts, or the episode. */
const REGION = { list: "results", charts: "charts", episode: "episode" }[page] || null;

const announcer = document.createElement("p");
announcer.className = "sr-only";
announcer.setAttribute("aria-live", "polite");
document.body.append(announcer);
const announce = (text) => {
  announcer.textContent = "";
  setTimeout(() => (announcer.textContent = text), 50);
};

function setLive(state, text) {
  if (!liveBox) return;
  liveBox.dataset.state = state;
  liveBox.querySelector(".text").textContent = text;
}

function partialUrl(href) {
  const url = new URL(href, location.href);
  url.searchParams.set("partial", "1");
  return url;
}

/** Replaces the region with the server's fresh rendering, keeping focus, scroll and open details where they were. */
async function refresh(href) {
  const region = REGION && document.getElementById(REGION);
  if (!region) return null;
  const response = await fetch(partialUrl(href), { headers: { accept: "text/html" } });
  const text = await response.text();
  const template = document.createElement("template");
  template.innerHTML = text;
  const fresh = template.content.getElementById(REGION);
  if (!response.ok || !fresh) {
    const problem = template.content.querySelector(".alert");
    announce(problem ? problem.textContent : `The viewer answered ${response.status}`);
    return null;
  }
  const active = document.activeElement;
  const focusKey = active && region.contains(active) ? active.getAttribute("href") || active.id : null;
  const open = [...region.querySelectorAll("details")].map((d) => d.open);
  region.replaceWith(fresh);
  fresh.querySelectorAll("details").forEach((d, i) => {
    if (open[i]) d.open = true;
  });
  if (focusKey) {
    const again = [...fresh.querySelectorAll("a[href], [id]")].find((el) => el.getAttribute("href") === focusKey || el.id === focusKey);
    if (again) again.focus({ preventScroll: true });
  }
  return fresh;
}

async function navigate(href, push = true) {
  const region = document.getElementById(REGION);
  if (region) region.setAttribute("aria-busy", "true");
  try {
    const fresh = await refresh(href);
    if (!fresh) return;
    if (push) history.pushState({ viewer: true }, "", href);
    const heading = fresh.querySelector("h2");
    if (page === "list" && heading) announce(heading.textContent);
    if (page === "charts") announce("Charts updated");
  } finally {
    const now = document.getElementById(REGION);
    if (now) now.removeAttribute("aria-busy");
  }
}

/** Filter forms submit in place: empty fields are left out of the address, and any filter change goes back to page 1. */
function wireForm() {
  const form = document.querySelector("form.filters");
  if (!form) return;
  const target = () => {
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(form)) if (String(value).trim() !== "") params.set(key, String(value).trim());
    if (params.get("sort") === "started") params.delete("sort");
    if (params.get("dir") === "desc") params.delete("dir");
    if (params.get("per_page") === "50") params.delete("per_page");
    const query = params.toString();
    return `${form.getAttribute("action")}${query ? `?${query}` : ""}`;
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    navigate(target());
  });
  form.addEventListener("change", (event) => {
    if (event.target instanceof HTMLSelectElement) form.requestSubmit();
  });
}

/** Sort headers and page links inside the region load in place. */
function wireLinks() {
  document.addEventListener("click", (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const link = event.target instanceof Element ? event.target.closest("a.sort, nav.pager a") : null;
    if (!link || !REGION || !document.getElementById(REGION)?.contains(link)) return;
    event.preventDefault();
    navigate(link.href);
  });
  // Back and forward change the filters as well as the results: load the whole page for that address.
  if (!history.state) history.replaceState({ viewer: true }, "");
  window.addEventListener("popstate", (event) => {
    if (event.state && event.state.viewer) location.reload();
  });
}

/** Rows: a click anywhere opens the episode; arrow keys move between rows (Tab and Enter work as on any link). */
function wireRows() {
  document.addEventListener("click", (event) => {
    const row = event.target instanceof Element ? event.target.closest("table.episodes tbody tr[data-id]") : null;
    if (!row || event.target.closest("a") || window.getSelection().toString() !== "") return;
    const link = row.querySelector("a.row-link");
    if (link) location.href = link.href;
  });
  document.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    const current = document.activeElement;
    if (!(current instanceof HTMLAnchorElement) || !current.classList.contains("row-link")) return;
    const links = [...document.querySelectorAll("table.episodes a.row-link")];
    const next = links[links.indexOf(current) + (event.key === "ArrowDown" ? 1 : -1)];
    if (next) {
      event.preventDefault();
      next.focus();
    }
  });
}

function flash(ids) {
  for (const id of ids) {
    const row = document.querySelector(`tr[data-id="${CSS.escape(id)}"]`);
    if (row) {
      row.classList.remove("flash");
      void row.offsetWidth;
      row.classList.add("flash");
    }
  }
}

/** Server-sent events: refresh the region when an episode it may show appears or moves on, at most once a second (charts: every 3 s). */
function wireLive() {
  if (!REGION || !("EventSource" in window)) return;
  const minGap = page === "charts" ? 3000 : 1000;
  const pending = new Set();
  let newCount = 0;
  let timer = null;
  let last = 0;
  const run = async () => {
    timer = null;
    last = Date.now();
    const ids = [...pending];
    const fresh = newCount;
    pending.clear();
    newCount = 0;
    const done = await refresh(location.href).catch(() => null);
    if (!done) return;
    if (page === "list") {
      flash(ids);
      if (fresh > 0) announce(`${fresh} new episode${fresh === 1 ? "" : "s"} recorded`);
    }
  };
  const source = new EventSource("/api/events");
  source.addEventListener("hello", () => setLive("on", "Live"));
  source.addEventListener("open", () => setLive("on", "Live"));
  source.addEventListener("error", () => setLive("off", "Reconnecting…"));
  source.addEventListener("episodes", (event) => {
    const { changed } = JSON.parse(event.data);
    const mine = page === "episode" ? changed.filter((c) => c.id === main.dataset.episode) : changed;
    if (mine.length === 0) return;
    for (const c of mine) pending.add(c.id);
    newCount += mine.filter((c) => c.new).length;
    if (!timer) timer = setTimeout(run, Math.max(100, minGap - (Date.now() - last)));
  });
  window.addEventListener("pagehide", () => source.close());
}

wireForm();
wireLinks();
wireRows();
wireLive();
