/* Flow analytics page: figures from /analytics/*, charts drawn as SVG by this file.
 * No framework and no build step. Everything shown is set as text, never HTML. */
(function () {
  "use strict";

  const SVG = "http://www.w3.org/2000/svg";
  const OUTCOME_COLUMNS = ["resolved", "ticket", "part", "visit", "goodwill", "handoff", "abandoned"];
  const $ = (id) => document.getElementById(id);
  const state = { me: null, selectedFlow: null, intents: null };

  // ------------------------------------------------------------------ helpers

  class HttpError extends Error {
    constructor(status, detail) {
      super(detail);
      this.status = status;
    }
  }

  function detailOf(body, status) {
    if (body && typeof body.detail === "string") return body.detail;
    if (body && Array.isArray(body.detail) && body.detail[0] && body.detail[0].msg) return body.detail[0].msg;
    return `The server answered ${status}.`;
  }

  async function api(method, path, body) {
    const options = { method, credentials: "same-origin", headers: {} };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, options);
    } catch (error) {
      throw new HttpError(0, "The server cannot be reached. Check your connection and try again.");
    }
    let data = null;
    if (response.status !== 204) {
      try { data = await response.json(); } catch (error) { data = null; }
    }
    if (!response.ok) {
      if (response.status === 401 && path !== "/auth/login") showSignin("Your session ended. Please sign in again.");
      throw new HttpError(response.status, detailOf(data, response.status));
    }
    return data;
  }

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function svgEl(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function percent(value) {
    return value === null || value === undefined ? "–" : `${Math.round(value * 1000) / 10}%`;
  }

  function shorten(text, length) {
    return text.length > length ? `${text.slice(0, length - 1)}…` : text;
  }

  function notice(text, bad) {
    const box = $("notice");
    box.textContent = text;
    box.classList.toggle("bad", Boolean(bad));
    box.hidden = !text;
  }

  function isoDay(date) {
    return date.toISOString().slice(0, 10);
  }

  function rangeQuery() {
    return `from=${encodeURIComponent($("range-from").value)}&to=${encodeURIComponent($("range-to").value)}`;
  }

  // ------------------------------------------------------------------ sign-in

  function showSignin(message) {
    $("app").hidden = true;
    $("signin").hidden = false;
    const error = $("signin-error");
    error.textContent = message || "";
    error.hidden = !message;
    $("signin-email").focus();
  }

  async function signIn(event) {
    event.preventDefault();
    const email = $("signin-email").value.trim();
    const password = $("signin-password").value;
    if (!email || !password) {
      showSignin("Please enter your e-mail and password.");
      return;
    }
    try {
      await api("POST", "/auth/login", { email, password });
      $("signin-password").value = "";
      await start();
    } catch (error) {
      showSignin(error.message);
    }
  }

  async function signOut() {
    try { await api("POST", "/auth/logout"); } catch (error) { /* signed out either way */ }
    state.me = null;
    showSignin("");
  }

  async function start() {
    let me;
    try {
      me = await api("GET", "/auth/me");
    } catch (error) {
      if (error.status !== 401) showSignin(error.message);
      else showSignin("");
      return;
    }
    state.me = me;
    $("signin").hidden = true;
    $("app").hidden = false;
    $("me").textContent = `${me.name} (${me.role})`;
    $("console-link").hidden = me.role === "trainer";
    if (me.role !== "trainer" && me.role !== "supervisor") {
      notice("Flow analytics are for trainers and supervisors. Your chats are in the console.", true);
      $("main").hidden = true;
      return;
    }
    $("main").hidden = false;
    watchFlowErrors();
    await loadFlows();
  }

  // ----------------------------------------------------- flow edits not live

  // A trainer's edit with an error is not loaded (the last good flows keep
  // answering); /health names each error with file:line.
  async function showFlowErrors() {
    let errors = [];
    try {
      const response = await fetch("/health", { credentials: "same-origin" });
      const body = await response.json();
      errors = Array.isArray(body.flows_errors) ? body.flows_errors : [];
    } catch (error) {
      return; // the API is unreachable: the next check tries again
    }
    const list = $("flow-errors-list");
    list.replaceChildren(...errors.map((text) => {
      const item = document.createElement("li");
      item.textContent = String(text);
      return item;
    }));
    $("flow-errors").hidden = errors.length === 0;
  }

  let flowErrorTimer = null;
  function watchFlowErrors() {
    showFlowErrors();
    if (flowErrorTimer === null) flowErrorTimer = setInterval(showFlowErrors, 15000);
  }

  // ------------------------------------------------------------------ flows

  async function loadFlows() {
    notice("");
    const query = rangeQuery();
    $("flows-csv").href = `/analytics/flows.csv?${query}`;
    $("daily-csv").href = `/analytics/daily.csv?${query}`;
    try {
      const [flows, daily] = await Promise.all([
        api("GET", `/analytics/flows?${query}`),
        api("GET", `/analytics/daily?${query}`),
      ]);
      renderFlows(flows.flows);
      drawDaily($("daily-chart"), daily.days);
      const stillThere = flows.flows.some((f) => f.flow_id === state.selectedFlow);
      if (state.selectedFlow && stillThere) await loadSteps(state.selectedFlow);
      else $("flow-detail").hidden = true;
    } catch (error) {
      if (error.status !== 401) notice(error.message, true);
    }
  }

  function renderFlows(flows) {
    const body = $("flows-table").querySelector("tbody");
    body.replaceChildren();
    $("flows-empty").hidden = flows.length > 0;
    for (const flow of flows) {
      const row = el("tr", { "data-flow": flow.flow_id });
      if (flow.flow_id === state.selectedFlow) row.classList.add("selected");
      const name = el("td");
      const open = el("button", { type: "button", class: "flow-link", title: flow.flow_id }, flow.title);
      open.addEventListener("click", () => selectFlow(flow.flow_id));
      name.append(open);
      row.append(name, el("td", { class: "num" }, flow.started));
      for (const kind of OUTCOME_COLUMNS) row.append(el("td", { class: "num" }, flow.outcomes[kind]));
      row.append(
        el("td", { class: "num" }, percent(flow.containment)),
        el("td", { class: "num" }, flow.median_turns ?? "–"),
        el("td", { class: "num" }, flow.median_minutes ?? "–"),
      );
      body.append(row);
    }
  }

  async function selectFlow(flowId) {
    state.selectedFlow = flowId;
    for (const row of $("flows-table").querySelectorAll("tbody tr")) {
      row.classList.toggle("selected", row.dataset.flow === flowId);
    }
    try {
      await loadSteps(flowId);
      $("flow-detail").scrollIntoView({ block: "start" });
    } catch (error) {
      if (error.status !== 401) notice(error.message, true);
    }
  }

  async function loadSteps(flowId) {
    const query = rangeQuery();
    const report = await api("GET", `/analytics/flows/${encodeURIComponent(flowId)}/steps?${query}`);
    $("steps-csv").href = `/analytics/flows/${encodeURIComponent(flowId)}/steps.csv?${query}`;
    $("detail-heading").textContent = `${report.title}: ${report.started} started`;
    drawFunnel($("funnel-chart"), report);
    drawDropoff($("dropoff-chart"), report.steps);
    renderSteps(report.steps);
    $("flow-detail").hidden = false;
  }

  function renderSteps(steps) {
    const list = $("steps");
    list.replaceChildren();
    for (const step of steps) {
      if (!step.reached && !step.misses_total && !step.answers.length) continue;
      const item = el("li", { "data-step": step.step_id });
      const head = el("div", { class: "step-head" });
      head.append(
        el("strong", { title: step.step_id }, step.label || step.step_id),
        el(
          "span",
          { class: "step-figures" },
          `reached ${step.reached} · left here ${step.abandoned_here} · to a person here ${step.handoff_here}` +
            ` · not understood ${step.misses_total}`,
        ),
      );
      item.append(head);
      const lists = el("div", { class: "step-lists" });
      if (step.answers.length) {
        const box = el("div");
        box.append(el("h4", {}, "Answers chosen"));
        const ul = el("ul", { class: "answers" });
        for (const answer of step.answers) ul.append(el("li", {}, `${answer.title}: ${answer.count}`));
        box.append(ul);
        lists.append(box);
      }
      if (step.misses.length) {
        const box = el("div");
        box.append(el("h4", {}, "Messages that matched no choice"));
        const ul = el("ul", { class: "misses" });
        for (const miss of step.misses) ul.append(el("li", {}, `“${miss.text}” ×${miss.count}`));
        box.append(ul);
        lists.append(box);
      }
      if (lists.childElementCount) item.append(lists);
      list.append(item);
    }
  }

  // ------------------------------------------------------------------ charts

  function emptyChart(target, text) {
    const chart = svgEl("svg", { viewBox: "0 0 600 40", width: 600, height: 40, "aria-hidden": "true" });
    chart.append(svgEl("text", { x: 8, y: 24, class: "muted-text" }, text));
    target.replaceChildren(chart);
    target.setAttribute("aria-label", text);
  }

  /** Horizontal bars, one per step in flow order: customers who reached it. */
  function drawFunnel(target, report) {
    const steps = report.steps.filter((s) => s.reached > 0);
    if (!steps.length) {
      emptyChart(target, "No customer reached this flow's steps in this range.");
      return;
    }
    const top = Math.max(report.started, ...steps.map((s) => s.reached));
    const labelWidth = 230, barWidth = 300, row = 22, width = labelWidth + barWidth + 70;
    const height = steps.length * row + 6;
    const chart = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, width, height, class: "funnel" });
    steps.forEach((step, index) => {
      const y = index * row + 4;
      const length = Math.max(1, Math.round((step.reached / top) * barWidth));
      const group = svgEl("g", { class: "funnel-step", "data-step": step.step_id });
      group.append(
        svgEl("title", {}, `${step.label}: reached by ${step.reached}`),
        svgEl("text", { x: labelWidth - 6, y: y + 13, "text-anchor": "end" }, shorten(step.label || step.step_id, 36)),
        svgEl("rect", { x: labelWidth, y, width: length, height: row - 6, class: "bar-reached" }),
        svgEl("text", { x: labelWidth + length + 4, y: y + 13 }, step.reached),
      );
      chart.append(group);
    });
    target.replaceChildren(chart);
    target.setAttribute("aria-label", `Funnel of ${report.title}: ` +
      steps.map((s) => `${s.label} ${s.reached}`).join(", "));
  }

  /** Stacked bars per step: customers who left there, and who were handed to a person there. */
  function drawDropoff(target, allSteps) {
    const steps = allSteps.filter((s) => s.abandoned_here + s.handoff_here > 0);
    if (!steps.length) {
      emptyChart(target, "No customer left this flow in this range.");
      return;
    }
    const top = Math.max(...steps.map((s) => s.abandoned_here + s.handoff_here));
    const labelWidth = 230, barWidth = 300, row = 22, width = labelWidth + barWidth + 90;
    const height = steps.length * row + 6;
    const chart = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, width, height, class: "dropoff" });
    steps.forEach((step, index) => {
      const y = index * row + 4;
      const left = Math.round((step.abandoned_here / top) * barWidth);
      const handed = Math.round((step.handoff_here / top) * barWidth);
      const group = svgEl("g", { class: "dropoff-step", "data-step": step.step_id });
      group.append(
        svgEl("title", {}, `${step.label}: ${step.abandoned_here} left, ${step.handoff_here} to a person`),
        svgEl("text", { x: labelWidth - 6, y: y + 13, "text-anchor": "end" }, shorten(step.label || step.step_id, 36)),
        svgEl("rect", { x: labelWidth, y, width: left, height: row - 6, class: "bar-abandoned" }),
        svgEl("rect", { x: labelWidth + left, y, width: handed, height: row - 6, class: "bar-handoff" }),
        svgEl("text", { x: labelWidth + left + handed + 4, y: y + 13 }, `${step.abandoned_here} + ${step.handoff_here}`),
      );
      chart.append(group);
    });
    target.replaceChildren(chart);
    target.setAttribute("aria-label", "Drop-off per step: " +
      steps.map((s) => `${s.label} ${s.abandoned_here} left, ${s.handoff_here} to a person`).join("; "));
  }

  /** Two lines over the days of the range: containment and handoff rate, 0-100%. */
  function drawDaily(target, days) {
    const active = days.filter((d) => d.started > 0);
    if (!active.length) {
      emptyChart(target, "No flow was started in this range.");
      return;
    }
    const width = 760, height = 200, left = 40, right = 10, top = 10, bottom = 24;
    const plotWidth = width - left - right, plotHeight = height - top - bottom;
    const x = (index) => left + (days.length === 1 ? plotWidth / 2 : (index / (days.length - 1)) * plotWidth);
    const y = (rate) => top + (1 - rate) * plotHeight;
    const chart = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, width, height, class: "daily" });
    for (const rate of [0, 0.5, 1]) {
      chart.append(
        svgEl("line", { x1: left, x2: width - right, y1: y(rate), y2: y(rate), class: "axis" }),
        svgEl("text", { x: left - 4, y: y(rate) + 4, "text-anchor": "end", class: "muted-text" }, `${rate * 100}%`),
      );
    }
    chart.append(
      svgEl("text", { x: left, y: height - 6, class: "muted-text" }, days[0].day),
      svgEl("text", { x: width - right, y: height - 6, "text-anchor": "end", class: "muted-text" }, days[days.length - 1].day),
    );
    for (const [key, name] of [["containment", "contained"], ["handoff_rate", "handoff"]]) {
      const points = [];
      days.forEach((day, index) => {
        if (day.started > 0) points.push([x(index), y(day[key]), day]);
      });
      chart.append(svgEl("polyline", { points: points.map(([px, py]) => `${px},${py}`).join(" "), class: `line-${name}` }));
      for (const [px, py, day] of points) {
        const dot = svgEl("circle", { cx: px, cy: py, r: 3, class: `dot-${name}` });
        dot.append(svgEl("title", {}, `${day.day}: ${percent(day[key])} ${name === "contained" ? "contained" : "to a person"} of ${day.started}`));
        chart.append(dot);
      }
    }
    target.replaceChildren(chart);
    const total = active.reduce((sum, d) => sum + d.started, 0);
    const contained = active.reduce((sum, d) => sum + d.contained, 0);
    const handed = active.reduce((sum, d) => sum + d.handoff, 0);
    target.setAttribute("aria-label", `${total} flows started from ${days[0].day} to ${days[days.length - 1].day}: ` +
      `${percent(contained / total)} contained, ${percent(handed / total)} handed to a person`);
  }

  // ------------------------------------------------------------------ review list

  async function loadReview() {
    notice("");
    const kind = $("review-kind").value;
    const status = $("review-status").value;
    let query = `${rangeQuery()}&status=${encodeURIComponent(status)}`;
    if (kind) query += `&kind=${encodeURIComponent(kind)}`;
    try {
      if (!state.intents) state.intents = await api("GET", "/analytics/intents");
      const report = await api("GET", `/analytics/review?${query}`);
      renderReview(report.items);
    } catch (error) {
      if (error.status !== 401) notice(error.message, true);
    }
  }

  function placeText(place) {
    if (place.kind === "fallback") return `no flow running ×${place.count}`;
    return `${place.flow_id} › ${place.step_id} ×${place.count}`;
  }

  function renderReview(items) {
    const body = $("review-table").querySelector("tbody");
    body.replaceChildren();
    $("review-empty").hidden = items.length > 0;
    items.forEach((item, index) => {
      const row = el("tr", { class: "review-item" });
      row.append(el("td", { class: "review-text" }, item.text), el("td", { class: "num" }, item.count));
      const where = el("td");
      for (const place of item.places) where.append(el("span", { class: "tag" }, placeText(place)));
      const guessed = el("td");
      for (const guess of item.guesses) {
        const sure = guess.confidence === null ? "" : ` (${Math.round(guess.confidence * 100)}%)`;
        guessed.append(el("span", { class: "tag" }, `${guess.intent || "nothing"}${sure} ×${guess.count}`));
      }
      const labelCell = el("td");
      const form = el("form", { class: "label-form" });
      const select = el("select", { "aria-label": `Intent for “${shorten(item.text, 40)}”`, id: `label-${index}` });
      select.append(el("option", { value: "" }, "Choose an intent…"));
      for (const intent of state.intents) {
        const option = el("option", { value: intent }, intent);
        if (intent === item.label) option.selected = true;
        select.append(option);
      }
      const save = el("button", { type: "submit", class: "primary" }, item.label ? "Change" : "Save");
      form.append(select, save);
      form.addEventListener("submit", (event) => saveLabel(event, item.text, select, save));
      labelCell.append(form);
      row.append(where, guessed, labelCell);
      body.append(row);
    });
  }

  async function saveLabel(event, text, select, button) {
    event.preventDefault();
    if (!select.value) {
      notice("Choose the intent this message should have had.", true);
      select.focus();
      return;
    }
    button.disabled = true;
    try {
      const result = await api("POST", "/analytics/review/labels", { text, intent: select.value });
      await loadReview();
      notice(result.message);
    } catch (error) {
      if (error.status !== 401) notice(error.message, true);
    } finally {
      button.disabled = false;
    }
  }

  // ------------------------------------------------------------------ views

  function show(view) {
    const flows = view === "flows";
    $("tab-flows").setAttribute("aria-pressed", String(flows));
    $("tab-review").setAttribute("aria-pressed", String(!flows));
    $("view-flows").hidden = !flows;
    $("view-review").hidden = flows;
    return flows ? loadFlows() : loadReview();
  }

  function currentView() {
    return $("view-review").hidden ? "flows" : "review";
  }

  function setUp() {
    const today = new Date();
    const first = new Date(today.getTime() - 29 * 86400000);
    $("range-to").value = isoDay(today);
    $("range-from").value = isoDay(first);
    $("signin-form").addEventListener("submit", signIn);
    $("signout").addEventListener("click", signOut);
    $("tab-flows").addEventListener("click", () => show("flows"));
    $("tab-review").addEventListener("click", () => show("review"));
    $("range").addEventListener("submit", (event) => {
      event.preventDefault();
      if ($("range-from").value > $("range-to").value) {
        notice("The first day must not be after the last day.", true);
        return;
      }
      show(currentView());
    });
    $("review-kind").addEventListener("change", loadReview);
    $("review-status").addEventListener("change", loadReview);
    start();
  }

  document.addEventListener("DOMContentLoaded", setUp);
})();
