// What the station page (station.js) and the fleet page (fleet.js) share: building nodes,
// an outcome's colour, whether a stage is work, the countdowns that run on the page's own
// clock between the server's events, and the connection to those events. Loaded before either page's script.
"use strict";

const $ = (id) => document.getElementById(id);
let countdowns = []; // [element, seconds left when received, performance.now() then]

// Text goes in as text nodes (append of a string) only: a name, a serial or a reason from the
// wire is never markup.
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  for (const child of children) node.append(child);
  return node;
}

function outcomeClass(outcome) {
  if (!outcome) return "";
  if (outcome === "running") return "running";
  return outcome.startsWith("reset_verified") ? "reset_verified" : "failed";
}

function isBusy(stage) {
  return !(stage.startsWith("ready") || stage === "done" || stage === "starting" ||
           stage.startsWith("waiting for a unit") || stage.startsWith("board"));
}

function tick() {
  const now = performance.now();
  for (const [node, left, at] of countdowns) {
    node.textContent = Math.max(0, left - (now - at) / 1000).toFixed(1) + " s";
  }
}

setInterval(tick, 100);

// The page's live feed: `draw(state)` for every state the server sends, until it says the
// page has ended; the connection badge says live, reconnecting or ended (set by `draw`).
function connect(draw) {
  const events = new EventSource("/events");
  events.addEventListener("open", () => {
    $("connection").textContent = "live"; $("connection").className = "conn live";
  });
  events.addEventListener("state", (event) => {
    const state = JSON.parse(event.data);
    draw(state);
    if (state.ended) events.close();
  });
  events.addEventListener("error", () => {
    if ($("connection").classList.contains("ended")) return;
    $("connection").textContent = "reconnecting…"; $("connection").className = "conn";
  });
}
