// The fleet page: draws itself from the server's `state` events (rig.web.fleet_app) and counts
// each bay's countdown down on its own clock between them. Text goes in with textContent
// only: a name, a serial or a reason from the wire is never markup.
"use strict";
// $, el, outcomeClass, isBusy, the countdowns and connect: page.js, loaded first.


function drawBay(bay, now) {
  const countdown = el("div", { class: "countdown" });
  if (bay.left_s !== null) countdowns.push([countdown, bay.left_s, now]);
  const outcome = bay.outcome || "";
  const detail = bay.outcome_detail ? ` (${bay.outcome_detail})` : "";
  const card = el("article", { class: "bay", "data-bay": bay.name },
    el("h3", {}, "Bay " + bay.name,
      outcome ? el("span", { class: "badge " + outcomeClass(outcome) }, outcome + detail) : ""),
    el("div", { class: "stage" }, bay.stage),
    countdown,
    el("div", { class: "unit" }, bay.unit ? "unit " + bay.unit : "no unit"),
    el("div", { class: "reason" },
       [outcome ? "last unit: " + outcome : "", bay.reason].filter(Boolean).join(": ")));
  card.classList.add(isBusy(bay.stage) ? "busy" : (outcomeClass(outcome) || "idle"));
  return card;
}

function drawStations(stations) {
  const now = performance.now();
  countdowns = [];
  $("stations").replaceChildren(...stations.map((station) => {
    const bays = station.bays.length
      ? el("div", { class: "bays" }, ...station.bays.map((bay) => drawBay(bay, now)))
      : el("p", { class: "empty" }, "no bay heard on MQTT");
    return el("section", { class: "station " + station.status, "data-station": station.name },
      el("h2", {}, "Station " + station.name,
        el("span", { class: "status " + station.status }, station.status),
        el("span", { class: "tally" },
           `today: ${station.units} unit(s), ${station.verified} verified, yield ${station.yield}`)),
      bays);
  }));
  if (!stations.length) $("stations").append(el("p", { class: "empty" }, "no station yet"));
  tick();
}

function drawModels(models) {
  $("models").tBodies[0].replaceChildren(...models.map((m) =>
    el("tr", { "data-model": m.model }, el("td", {}, m.model), el("td", {}, String(m.units)),
       el("td", {}, String(m.verified)), el("td", {}, m.yield))));
}

function drawUnits(units, total) {
  $("units-count").textContent = total > units.length
    ? `(the latest ${units.length} of ${total}: all in the report)` : `(${total})`;
  $("units").tBodies[0].replaceChildren(...units.map((unit) => {
    const links = el("td", {});
    if (unit.certificate) {
      links.append(el("a", { href: unit.certificate, target: "_blank", rel: "noopener" },
                      "certificate"));
    }
    return el("tr", { "data-station": unit.station, "data-job": String(unit.job_id) },
      el("td", {}, unit.station), el("td", {}, unit.bay || "–"),
      el("td", {}, unit.serial), el("td", {}, unit.model),
      el("td", {}, el("span", { class: "badge " + outcomeClass(unit.outcome) }, unit.outcome)),
      el("td", {}, unit.reason), links);
  }));
}

function draw(state) {
  $("day").textContent = state.day;
  drawStations(state.stations);
  drawModels(state.models);
  drawUnits(state.units, state.units_total);
  $("report-link").hidden = !state.postgres;
  $("problems").replaceChildren(...state.problems.map((p) => el("li", {}, p)));
  if (state.ended) {
    $("connection").textContent = "page stopped"; $("connection").className = "conn ended";
  }
}

connect(draw);
