// The station page: draws itself from the server's `state` events (rig.web.app) and counts
// each bay's countdown down on its own clock between them. Text goes in with textContent
// only: a serial or a reason from the wire is never markup.
"use strict";
// $, el, outcomeClass, isBusy, the countdowns and connect: page.js, loaded first.

let printer = false; // the station has a label printer ([labels]): units get a Print button

// The station's row says "reset_verified (2 attempt(s))": the outcome, and how many tries.
function splitOutcome(text) {
  const [outcome, ...rest] = (text || "").split(" ");
  const attempts = /\((\d+) attempt/.exec(rest.join(" "));
  return [outcome, attempts ? Number(attempts[1]) : 1];
}

function drawBays(bays) {
  const box = $("bays");
  const now = performance.now();
  countdowns = [];
  box.replaceChildren(...bays.map((bay) => {
    const countdown = el("div", { class: "countdown" });
    if (bay.left_s !== null) countdowns.push([countdown, bay.left_s, now]);
    const [outcome, attempts] = splitOutcome(bay.outcome);
    const last = attempts > 1 ? `last unit: ${outcome} after ${attempts} attempts (longer hold)`
                              : (outcome ? "last unit: " + outcome : "");
    const card = el("article", { class: "bay", "data-bay": bay.name },
      el("h3", {}, "Bay " + bay.name,
        outcome ? el("span", { class: "badge " + outcomeClass(outcome), title: last }, bay.outcome)
                : ""),
      el("div", { class: "stage" }, bay.stage),
      countdown,
      el("div", { class: "unit" }, bay.unit ? "unit " + bay.unit : "no unit"),
      el("div", { class: "reason" }, [last, bay.reason].filter(Boolean).join(": ")),
      el("div", { class: "qa" }, bay.qa ? "QA: " + bay.qa : ""));
    card.classList.add(isBusy(bay.stage) ? "busy" : (outcomeClass(bay.outcome) || "idle"));
    return card;
  }));
  tick();
}

function drawToday(today, summary) {
  const items = [["units", today.units], ["verified", today.verified],
                 ["yield", today.yield], ["units/hour", today.per_hour]];
  $("today").replaceChildren(...items.map(([name, value]) =>
    el("div", {}, el("dt", {}, name), el("dd", { "data-figure": name }, String(value ?? "–")))));
  $("summary").textContent = summary ? "this run: " + summary : "";
}

function drawUnits(units) {
  $("units").tBodies[0].replaceChildren(...units.map((unit) => {
    const links = el("td", {});
    if (unit.verified) {
      links.append(el("a", { href: "/report#certificate-" + unit.job_id, target: "_blank",
                             rel: "noopener" }, "certificate"), " ",
                   el("a", { href: "/label/" + unit.job_id + ".png", target: "_blank",
                             rel: "noopener" }, "label"));
      if (printer) {
        const button = el("button", { type: "button", class: "print" }, "print");
        button.addEventListener("click", async () => {
          const [ok, answer] = await post("/label/" + unit.job_id + "/print");
          setStatus(ok ? answer.queued : answer.error || "refused", !ok);
        });
        links.append(" ", button);
      }
    }
    return el("tr", { "data-job": String(unit.job_id) },
      el("td", {}, String(unit.job_id)), el("td", {}, unit.bay || "–"),
      el("td", {}, unit.serial), el("td", {}, unit.model),
      el("td", {}, el("span", { class: "badge " + outcomeClass(unit.outcome) }, unit.outcome)),
      el("td", {}, unit.reason), links);
  }));
}

function draw(state) {
  $("station").textContent = "Station " + state.station;
  document.title = "rig · " + state.station;
  drawBays(state.bays);
  drawToday(state.today, state.summary);
  drawUnits(state.units);
  $("notes").replaceChildren(...state.notes.slice().reverse().map((n) => el("li", {}, n)));
  const conn = $("connection");
  if (state.ended) {
    conn.textContent = "station ended"; conn.className = "conn ended";
  } else if (state.stopping) {
    conn.textContent = "stopping: running units finish"; conn.className = "conn";
  }
  $("stop").disabled = state.stopping || state.ended;
  $("scan-button").disabled = state.stopping || state.ended;
}

async function post(path, body) {
  const response = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" },
                                       body: JSON.stringify(body || {}) });
  return [response.ok, await response.json().catch(() => ({}))];
}

function setStatus(text, error) {
  const out = $("scan-status");
  out.textContent = text;
  out.className = error ? "error" : "";
}

$("scan-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("scan");
  const text = input.value.trim();
  if (!text) return;
  input.value = "";
  const [ok, answer] = await post("/scan", { scan: text });
  setStatus(ok ? "queued " + answer.queued : answer.error || "refused", !ok);
  input.focus();
});

$("stop").addEventListener("click", async () => {
  if (!window.confirm("Stop the station? Running units finish first.")) return;
  const [ok] = await post("/stop");
  setStatus(ok ? "stopping: the running units finish" : "stop refused", !ok);
});

fetch("/config").then((r) => r.json()).then((c) => { printer = Boolean(c.printer); })
  .catch(() => {}).finally(() => connect(draw));
