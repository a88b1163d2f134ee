/* Agent console: search past chats and tickets, and the customer's history beside a chat.
 *
 * Builds on console.js through window.SupportConsole. Every piece of data is rendered
 * with textContent, never as HTML. See docs/console.md.
 */
(function () {
  "use strict";

  const C = window.SupportConsole;
  if (!C) return;
  const { state, api, el, toast } = C;
  const $ = (id) => document.getElementById(id);
  const SKILLS = ["internet", "cable", "hardware", "software", "other"];
  const OUTCOME_LABEL = {
    bot: "Assistant only",
    waiting: "Waiting",
    active: "With an agent",
    returned: "Handed back",
    resolved: "Resolved",
    callback: "Callback",
  };
  const SENDER_LABEL = { customer: "Customer", bot: "Assistant", system: "System" };

  const dialog = $("search");
  const search = { offset: 0, params: null, agents: [] };

  for (const skill of SKILLS) $("sf-skill").append(el("option", { value: skill, text: C.capital(skill) }));

  function day(iso) {
    const date = new Date(iso);
    return isNaN(date) ? "" : date.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
  }

  async function loadAgents() {
    if (!C.isSupervisor() || search.agents.length) return;
    try {
      const overview = await api("GET", "/agents/overview");
      search.agents = overview.agents;
      $("sf-agent").replaceChildren(
        el("option", { value: "", text: "Anyone" }),
        ...overview.agents.map((a) => el("option", { value: String(a.id), text: a.name }))
      );
    } catch (error) {
      /* the filter stays at "Anyone" */
    }
  }

  function openSearch() {
    if (!dialog.open) dialog.showModal();
    const me = state.me;
    if (me && !C.isSupervisor() && $("sf-agent").options.length === 1) {
      $("sf-agent").append(el("option", { value: String(me.id), text: `${me.name} (me)` }));
    }
    loadAgents();
    $("sf-q").focus();
  }
  $("open-search").addEventListener("click", openSearch);
  $("search-close").addEventListener("click", () => dialog.close());

  function paramsFromForm() {
    const params = new URLSearchParams();
    const add = (key, value) => value && params.set(key, value);
    add("q", $("sf-q").value.trim());
    if ($("sf-from").value) add("date_from", new Date(`${$("sf-from").value}T00:00:00`).toISOString());
    if ($("sf-to").value) add("date_to", new Date(`${$("sf-to").value}T23:59:59`).toISOString());
    add("skill", $("sf-skill").value);
    add("agent_id", $("sf-agent").value);
    add("outcome", $("sf-outcome").value);
    add("rating", $("sf-rating").value);
    return params;
  }

  async function runSearch(more) {
    if (!more) {
      search.params = paramsFromForm();
      search.offset = 0;
      $("search-results").replaceChildren();
      $("search-transcript").hidden = true;
    }
    const params = new URLSearchParams(search.params);
    params.set("offset", String(search.offset));
    params.set("limit", "20");
    $("search-status").textContent = "Searching…";
    let page;
    const started = performance.now();
    try {
      page = await api("GET", `/search?${params}`);
    } catch (error) {
      $("search-status").textContent = error.message;
      return;
    }
    const took = Math.round(performance.now() - started);
    search.offset += page.items.length;
    $("search-results").append(...page.items.map(result));
    const count = $("search-results").children.length;
    $("search-status").textContent = count
      ? `${count} conversation${count === 1 ? "" : "s"}${page.more ? " so far" : ""} (${took} ms).`
      : "Nothing found. Try fewer or shorter words, or other filters.";
    $("search-more").hidden = !page.more;
  }

  function result(hit) {
    const facts = [
      day(hit.started_at),
      hit.skill ? C.capital(hit.skill) : null,
      OUTCOME_LABEL[hit.outcome] || hit.outcome,
      hit.rating ? `rated ${hit.rating}/5` : null,
      hit.tickets.length ? hit.tickets.join(", ") : null,
    ].filter(Boolean);
    return el(
      "li",
      { class: "result" },
      el(
        "button",
        { type: "button", class: "item-open", onclick: () => showTranscript(hit) },
        el("span", { class: "title", text: hit.first_words || "(no words from the customer)" }),
        el("span", { class: "snippet", text: hit.snippet }),
        el("span", { class: "muted", text: facts.join(" · ") })
      )
    );
  }

  async function showTranscript(hit) {
    let transcript;
    try {
      transcript = await api("GET", hit.transcript_path);
    } catch (error) {
      toast(error.message, "error");
      return;
    }
    $("st-title").textContent = `Transcript · ${day(hit.started_at)}`;
    $("st-messages").replaceChildren(
      ...transcript.messages.map((m) =>
        el(
          "li",
          { class: `msg ${m.sender}` },
          el(
            "div",
            { class: "msg-head" },
            el("span", { class: "who", text: m.sender === "agent" ? m.agent_name || "Agent" : SENDER_LABEL[m.sender] || m.sender }),
            el("time", { datetime: m.created_at, text: C.clock(m.created_at) })
          ),
          el("div", { class: "bub", text: m.text })
        )
      )
    );
    $("search-transcript").hidden = false;
    $("search-transcript").scrollIntoView({ block: "nearest" });
  }

  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    runSearch(false);
  });
  $("search-more").addEventListener("click", () => runSearch(true));

  // ---------------------------------------------------------- customer history

  C.on("chat", async (view) => {
    const target = $("history");
    let history;
    try {
      history = await api("GET", `/conversations/${view.conversation_id}/history`);
    } catch (error) {
      target.replaceChildren(el("p", { class: "muted", text: error.message }));
      return;
    }
    if (state.current !== view.conversation_id) return;
    const part = (title, items, line) =>
      el(
        "div",
        { class: "history-part" },
        el("h4", { text: title }),
        items.length
          ? el("ul", { class: "plain" }, ...items.map((item) => el("li", {}, ...line(item))))
          : el("p", { class: "muted", text: "None." })
      );
    const past = history.conversations.filter((c) => !c.current);
    target.replaceChildren(
      el("p", {
        class: "muted",
        text: history.identified
          ? `${history.customer_name}: everything on record.`
          : "Not identified: what this chat produced.",
      }),
      part("Past conversations", past, (c) => [
        el("strong", { text: day(c.started_at) }),
        " ",
        el("span", { text: c.first_words || "–" }),
        el("span", {
          class: "muted",
          text: ` · ${OUTCOME_LABEL[c.outcome] || c.outcome}${c.rating ? ` · rated ${c.rating}/5` : ""}`,
        }),
      ]),
      part("Tickets", history.tickets, (t) => [
        el("strong", { text: t.number }),
        ` ${t.title}`,
        el("span", { class: "muted", text: ` · ${t.status}` }),
      ]),
      part("Visits", history.visits, (v) => [`${day(v.starts_at)} `, el("span", { class: "muted", text: v.status })]),
      part("Orders", history.orders, (o) => [
        el("strong", { text: o.number }),
        ` ${o.part_name}`,
        el("span", { class: "muted", text: ` · ${o.status}` }),
      ]),
      part("Ratings", history.ratings, (r) => [`${r.score}/5`])
    );
  });
})();
