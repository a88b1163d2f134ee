/* Agent console: queue, chats, notes, actions and the supervisor overview.
 *
 * Plain JS. Every piece of data is rendered with textContent, never as HTML.
 * Protocol: docs/console.md.
 */
(function () {
  "use strict";

  const SKILLS = ["internet", "cable", "hardware", "software", "other"];
  const TYPING_IDLE_MS = 2500;
  const PEER_TYPING_MS = 6000;

  const state = {
    me: null,
    socket: null,
    connected: false,
    retry: 0,
    retryTimer: null,
    pingTimer: null,
    waiting: [],
    mine: [],
    current: null, // conversation id in the chat view
    view: null, // last GET /conversations/{id}
    watched: new Set(),
    unread: new Set(),
    outbox: new Map(), // client_id -> frame, until acked
    typingSent: false,
    typingTimer: null,
    peerTypingTimer: null,
    overviewTimer: null,
    extras: [],
  };

  const $ = (id) => document.getElementById(id);

  // Shift tools (console_tools.js, console_search.js) listen here and may narrow the queue.
  const listeners = {};
  function emit(name, ...args) {
    for (const listener of listeners[name] || []) {
      try {
        listener(...args);
      } catch (error) {
        console.error(error);
      }
    }
  }
  let queueView = (waiting) => ({ shown: waiting, total: waiting.length });

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // ------------------------------------------------------------------ HTTP

  class HttpError extends Error {
    constructor(status, detail) {
      super(detail);
      this.status = status;
    }
  }

  async function api(method, path, body, headers) {
    const options = {
      method,
      credentials: "same-origin",
      headers: Object.assign({ "Content-Type": "application/json" }, headers || {}),
    };
    if (body !== undefined) options.body = JSON.stringify(body);
    let response;
    try {
      response = await fetch(path, options);
    } catch (error) {
      throw new HttpError(0, "The server cannot be reached. Check your connection.");
    }
    if (response.status === 204) return null;
    let data = null;
    try {
      data = await response.json();
    } catch (error) {
      data = null;
    }
    if (!response.ok) {
      let detail = data && data.detail;
      if (Array.isArray(detail)) detail = detail.map((d) => d.msg).join("; ");
      if (response.status === 401 && path !== "/auth/login") signedOut("Your session ended. Please sign in again.");
      throw new HttpError(response.status, typeof detail === "string" ? detail : `Request failed (${response.status}).`);
    }
    return data;
  }

  // --------------------------------------------------------------- helpers

  let toastTimer = null;
  function toast(text, kind) {
    const box = $("toast");
    box.textContent = text;
    box.dataset.kind = kind || "info";
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => (box.hidden = true), 6000);
  }

  function since(iso) {
    const seconds = Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 1000));
    return duration(seconds);
  }

  function duration(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    if (seconds < 60) return `${seconds}s`;
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return `${minutes}m ${String(seconds % 60).padStart(2, "0")}s`;
    return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, "0")}m`;
  }

  function clock(iso) {
    const date = new Date(iso);
    return isNaN(date) ? "" : date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function newClientId() {
    const random = crypto.getRandomValues(new Uint32Array(2));
    return `a-${Date.now().toString(36)}-${random[0].toString(36)}${random[1].toString(36)}`;
  }

  function firstLines(text, count) {
    return (text || "").split("\n").filter((l) => l.trim()).slice(0, count).join("\n");
  }

  const isSupervisor = () => state.me && state.me.role === "supervisor";

  function handoffFor(conversationId) {
    return (
      state.mine.find((h) => h.conversation_id === conversationId) ||
      state.waiting.find((h) => h.conversation_id === conversationId) ||
      (state.view && state.view.conversation_id === conversationId ? state.view.handoff : null)
    );
  }

  // -------------------------------------------------------------- sign-in

  function showSignin(message) {
    $("app").hidden = true;
    $("signin").hidden = false;
    const error = $("signin-error");
    error.hidden = !message;
    error.textContent = message || "";
    $("signin-email").focus();
  }

  async function showApp(me) {
    state.me = me;
    $("signin").hidden = true;
    $("app").hidden = false;
    $("me").textContent = `${me.name} · ${me.role === "supervisor" ? "Supervisor" : "Tier " + me.tier}`;
    $("tab-overview").hidden = !isSupervisor();
    showTab("chats");
    connect();
  }

  function signedOut(message) {
    if (!state.me) return;
    state.me = null;
    const socket = state.socket;
    state.socket = null;
    if (socket) socket.close();
    clearTimeout(state.retryTimer);
    clearInterval(state.pingTimer);
    clearInterval(state.overviewTimer);
    Object.assign(state, { waiting: [], mine: [], current: null, view: null, retry: 0 });
    state.watched.clear();
    state.unread.clear();
    state.outbox.clear();
    closeChat();
    renderQueue();
    showSignin(message);
  }

  $("signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const email = $("signin-email").value.trim();
    const password = $("signin-password").value;
    const error = $("signin-error");
    error.hidden = true;
    if (!email || !password) {
      error.textContent = "Enter your e-mail and password.";
      error.hidden = false;
      return;
    }
    const button = event.target.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const me = await api("POST", "/auth/login", { email, password });
      $("signin-password").value = "";
      await showApp(me);
    } catch (failure) {
      error.textContent =
        failure.status === 401 ? "The e-mail or password is not right." : failure.message;
      error.hidden = false;
    } finally {
      button.disabled = false;
    }
  });

  $("signout").addEventListener("click", async () => {
    try {
      await api("POST", "/auth/logout");
    } catch (error) {
      /* signed out locally either way */
    }
    signedOut("You are signed out.");
  });

  // --------------------------------------------------------------- socket

  function setConn(stateName, text) {
    const conn = $("conn");
    conn.dataset.state = stateName;
    conn.textContent = text;
  }

  function connect() {
    if (!state.me || state.socket) return;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/ws/agent`);
    state.socket = socket;
    setConn("connecting", state.retry ? "Reconnecting…" : "Connecting…");

    socket.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (error) {
        return;
      }
      if (state.socket === socket) onFrame(frame);
    });
    socket.addEventListener("close", (event) => {
      if (state.socket !== socket) return;
      state.socket = null;
      state.connected = false;
      clearInterval(state.pingTimer);
      if (event.code === 4401) return signedOut("You were signed out.");
      scheduleReconnect();
    });
  }

  async function scheduleReconnect() {
    if (!state.me) return;
    const delay = Math.min(15000, 1000 * 2 ** state.retry) * (0.75 + Math.random() * 0.5);
    state.retry += 1;
    setConn("offline", `Offline – retrying in ${Math.ceil(delay / 1000)}s`);
    clearTimeout(state.retryTimer);
    state.retryTimer = setTimeout(async () => {
      if (!state.me) return;
      try {
        await api("GET", "/auth/me"); // a 401 here returns to the sign-in form
      } catch (error) {
        if (error.status === 401) return;
      }
      connect(); // if the server is still away, the socket closes and we retry later
    }, delay);
  }

  function send(frame) {
    if (state.socket && state.connected) {
      state.socket.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  function onFrame(frame) {
    emit("frame", frame);
    switch (frame.type) {
      case "hello":
        onHello(frame);
        break;
      case "queue":
        state.waiting = frame.waiting || [];
        state.mine = frame.mine || [];
        for (const h of state.mine) state.watched.add(h.conversation_id);
        renderQueue();
        refreshChatHeader();
        break;
      case "message":
        onMessage(frame);
        break;
      case "typing":
        onTyping(frame);
        break;
      case "owner":
        if (frame.conversation_id === state.current) {
          if (state.view) state.view.owner = frame.owner;
          refreshChatHeader();
        }
        break;
      case "note":
        if (frame.conversation_id === state.current) addNote(frame);
        break;
      case "language":
        onLanguage(frame);
        break;
      case "rating":
        if (frame.conversation_id === state.current) {
          addLine({
            sender: "system",
            text: `The customer rated this chat ${frame.score}/5${frame.comment ? ": " + frame.comment : "."}`,
          });
        }
        break;
      case "ack":
        onAck(frame);
        break;
      case "error":
        onError(frame);
        break;
      case "signed_out":
        signedOut("You were signed out.");
        break;
      default:
        break; // opened, pong, rating_request
    }
  }

  function onHello(frame) {
    state.connected = true;
    const wasRetry = state.retry > 0;
    state.retry = 0;
    setConn("online", "Online");
    if (frame.agent) {
      state.me = Object.assign({}, state.me, frame.agent);
      $("tab-overview").hidden = !isSupervisor();
    }
    clearInterval(state.pingTimer);
    state.pingTimer = setInterval(() => send({ type: "ping" }), 25000);
    // Watch again what was watched, and fetch the open chat so nothing is missed.
    for (const id of state.watched) send({ type: "open", conversation_id: id });
    for (const frameOut of state.outbox.values()) send(frameOut);
    if (state.current && wasRetry) loadConversation(state.current, { keepScroll: true });
  }

  // ---------------------------------------------------------------- queue

  function renderQueue() {
    const queue = $("queue");
    const view = queueView(state.waiting);
    queue.replaceChildren(
      ...view.shown.map((h) =>
        el(
          "li",
          { class: "item" + (h.conversation_id === state.current ? " active" : ""), "data-handoff": h.id },
          el(
            "button",
            {
              type: "button",
              class: "item-open",
              "aria-label": `Preview chat of ${h.title || "a customer"}, waiting for ${h.skill}, tier ${h.tier}`,
              onclick: () => openChat(h.conversation_id),
            },
            el(
              "span",
              { class: "item-top" },
              el("span", { class: "tag skill", text: h.skill }),
              el("span", { class: "tag", text: `Tier ${h.tier}` }),
              languageTag(h.language),
              el("span", { class: `tag prio-${h.priority}`, text: h.priority }),
              el("span", { class: "wait", "data-since": h.waiting_since, text: since(h.waiting_since) })
            ),
            el("span", { class: "title", text: h.title || "" }),
            el("span", { class: "reason", text: h.reason }),
            el("span", { class: "snippet", text: firstLines(h.summary, 3) })
          ),
          el("button", { type: "button", class: "claim primary", onclick: () => claim(h) }, "Claim")
        )
      )
    );
    $("queue-empty").hidden = view.shown.length > 0;
    $("queue-empty").textContent = state.waiting.length ? "No chats match the filters." : "No chats waiting.";
    $("waiting-count").textContent = String(state.waiting.length);
    $("queue-status").textContent = `${state.waiting.length} chat${state.waiting.length === 1 ? "" : "s"} waiting`;

    const mine = $("mine");
    mine.replaceChildren(
      ...state.mine.map((h) =>
        el(
          "li",
          { class: "item" + (h.conversation_id === state.current ? " active" : "") },
          el(
            "button",
            {
              type: "button",
              class: "item-open",
              "data-conversation": h.conversation_id,
              "aria-current": h.conversation_id === state.current ? "true" : null,
              onclick: () => openChat(h.conversation_id),
            },
            el(
              "span",
              { class: "item-top" },
              el("span", { class: "tag skill", text: h.skill }),
              el("span", { class: "tag", text: `Tier ${h.tier}` }),
              languageTag(h.language),
              state.unread.has(h.conversation_id) ? el("span", { class: "unread", text: "New" }) : null
            ),
            el("span", { class: "title", text: h.title || "" }),
            el("span", { class: "reason", text: h.reason })
          )
        )
      )
    );
    $("mine-empty").hidden = state.mine.length > 0;
    $("mine-count").textContent = String(state.mine.length);
    emit("queue", view);
  }

  // The customer's language (conversations.language): a tag in the queue and the chat header.
  const LANGUAGE_NAMES = { en: "English", de: "German" };
  function languageName(code) {
    return LANGUAGE_NAMES[code] || code || "";
  }
  function languageTag(code) {
    if (!code) return null;
    return el("span", {
      class: "tag lang",
      title: `The customer writes ${languageName(code)}`,
      "aria-label": `Language: ${languageName(code)}`,
      "data-language": code,
      text: code.toUpperCase(),
    });
  }
  function onLanguage(frame) {
    for (const h of state.waiting.concat(state.mine)) {
      if (h.conversation_id === frame.conversation_id) h.language = frame.language;
    }
    if (state.view && frame.conversation_id === state.current) state.view.language = frame.language;
    renderQueue();
    refreshChatHeader();
  }

  function tick() {
    for (const node of document.querySelectorAll("[data-since]")) node.textContent = since(node.dataset.since);
  }
  setInterval(tick, 1000);

  async function claim(handoff) {
    try {
      await api("POST", `/handoffs/${handoff.id}/claim`);
      state.watched.add(handoff.conversation_id);
      send({ type: "open", conversation_id: handoff.conversation_id });
      await openChat(handoff.conversation_id);
      $("composer-text").focus();
    } catch (error) {
      if (error.status === 409 && /already taken/i.test(error.message)) {
        toast("Another agent has already taken this chat.", "warn");
      } else {
        toast(error.message, "error");
      }
      refreshQueue();
    }
  }

  async function refreshQueue() {
    try {
      const [waiting, mine] = await Promise.all([api("GET", "/handoffs/queue"), api("GET", "/handoffs/mine")]);
      state.waiting = waiting;
      state.mine = mine;
      renderQueue();
      refreshChatHeader();
    } catch (error) {
      /* the socket brings the next update */
    }
  }

  // ----------------------------------------------------------------- chat

  async function openChat(conversationId) {
    showTab("chats");
    if (state.current !== conversationId) {
      stopTyping();
      state.current = conversationId;
      state.view = null;
      $("transcript").replaceChildren();
      $("notes").replaceChildren();
      $("composer-text").value = "";
    }
    state.unread.delete(conversationId);
    $("chat-empty").hidden = true;
    $("chat-view").hidden = false;
    $("customer").hidden = false;
    renderQueue();
    state.watched.add(conversationId);
    send({ type: "open", conversation_id: conversationId });
    await loadConversation(conversationId);
  }

  function closeChat() {
    state.current = null;
    state.view = null;
    $("chat-view").hidden = true;
    $("customer").hidden = true;
    $("chat-empty").hidden = false;
    $("transcript").replaceChildren();
  }

  async function loadConversation(conversationId, options) {
    let view;
    try {
      view = await api("GET", `/conversations/${conversationId}`);
    } catch (error) {
      if (conversationId === state.current) {
        if (error.status === 404) {
          state.watched.delete(conversationId);
          closeChat();
          renderQueue();
          toast("This chat is no longer available to you.", "warn");
        } else {
          toast(error.message, "error");
        }
      }
      return;
    }
    if (conversationId !== state.current) return;
    state.view = view;
    const log = $("transcript");
    const nearBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    // Keep unacknowledged messages; replace the rest with the stored transcript.
    const pending = [...log.querySelectorAll(".msg.pending:not([data-id])")];
    log.replaceChildren();
    for (const message of view.messages) addLine(message);
    for (const node of pending) log.append(node);
    if (!(options && options.keepScroll) || nearBottom) log.scrollTop = log.scrollHeight;
    $("notes").replaceChildren();
    for (const note of view.notes) addNote(note);
    renderCustomer(view);
    refreshChatHeader();
    emit("chat", view);
  }

  function refreshChatHeader() {
    if (!state.current) return;
    const view = state.view;
    const handoff = handoffFor(state.current);
    const mine = state.mine.some((h) => h.conversation_id === state.current);
    const waiting = state.waiting.find((h) => h.conversation_id === state.current);
    $("chat-title").textContent = handoff ? `${capital(handoff.skill)} · Tier ${handoff.tier}` : "Chat";
    const language = (view && view.language) || (handoff && handoff.language);
    const writes = language ? `writes ${languageName(language)} · ` : "";
    $("chat-meta").textContent = handoff
      ? `${handoff.reason} · priority ${handoff.priority} · ${writes}chat ${state.current.slice(0, 8)}`
      : `${writes}chat ${state.current.slice(0, 8)}`;
    const owner = view ? view.owner : "";
    const ownerLabel = {
      bot: "With the assistant",
      queued: "Waiting for an agent",
      agent: mine ? "With you" : "With an agent",
      closed: "Closed",
    }[owner];
    $("chat-owner").textContent = ownerLabel || owner;
    $("chat-owner").dataset.owner = owner;
    $("chat-claim").hidden = !waiting;
    const canAct = mine || (isSupervisor() && handoff && handoff.status === "active");
    for (const button of $("actions").querySelectorAll("button")) button.disabled = !canAct;
    $("actions").hidden = !canAct;
    $("composer").hidden = !canAct;
    const banner = $("chat-banner");
    if (canAct) banner.hidden = true;
    else {
      banner.hidden = false;
      banner.textContent = waiting
        ? "This chat is waiting in the queue. Claim it to reply."
        : owner === "bot"
          ? "This chat was handed back to the assistant."
          : owner === "closed"
            ? "This chat is resolved."
            : "This chat is not assigned to you. You can read it but not reply.";
    }
  }

  const capital = (text) => (text ? text[0].toUpperCase() + text.slice(1) : "");

  const SENDER_LABEL = { customer: "Customer", bot: "Assistant", system: "System" };

  function addLine(message, pendingClientId) {
    const log = $("transcript");
    if (message.id !== undefined && log.querySelector(`[data-id="${Number(message.id)}"]`)) return null;
    const who =
      message.sender === "agent" ? message.agent_name || "Agent" : SENDER_LABEL[message.sender] || message.sender;
    const node = el(
      "li",
      {
        class: `msg ${message.sender}${pendingClientId ? " pending" : ""}`,
        "data-id": message.id !== undefined ? Number(message.id) : null,
        "data-client-id": pendingClientId || null,
      },
      el(
        "div",
        { class: "msg-head" },
        el("span", { class: "who", text: who }),
        el("time", { datetime: message.created_at || null, text: message.created_at ? clock(message.created_at) : "" }),
        el("span", { class: "status", text: pendingClientId ? "Sending…" : "" })
      ),
      el("div", { class: "bub", text: message.text })
    );
    if (message.buttons && message.buttons.length) {
      node.append(
        el("div", { class: "offered", text: "Offered: " + message.buttons.map((b) => b.title).join(" · ") })
      );
    }
    const stick = log.scrollHeight - log.scrollTop - log.clientHeight < 60;
    log.append(node);
    if (stick || pendingClientId) log.scrollTop = log.scrollHeight;
    return node;
  }

  function onMessage(frame) {
    const id = frame.conversation_id;
    if (id !== state.current) {
      if (frame.sender === "customer" && state.mine.some((h) => h.conversation_id === id)) {
        state.unread.add(id);
        renderQueue();
      }
      return;
    }
    if (frame.sender === "customer") showPeerTyping(false);
    if (frame.sender === "agent" && state.me && frame.agent_name === state.me.name) {
      // My own message coming back: adopt the pending bubble instead of showing it twice.
      const log = $("transcript");
      if (log.querySelector(`[data-id="${Number(frame.id)}"]`)) return;
      const pending = [...log.querySelectorAll(".msg.pending:not([data-id])")].find(
        (n) => n.querySelector(".bub").textContent === frame.text
      );
      if (pending) {
        pending.dataset.id = String(Number(frame.id));
        pending.querySelector("time").textContent = clock(frame.created_at);
        return;
      }
    }
    addLine(frame);
  }

  function onAck(frame) {
    state.outbox.delete(frame.client_id);
    const log = $("transcript");
    const node = log.querySelector(`[data-client-id="${CSS.escape(frame.client_id)}"]`);
    if (!node) return;
    const other = log.querySelector(`[data-id="${Number(frame.id)}"]`);
    if (other && other !== node) other.remove();
    node.dataset.id = String(Number(frame.id));
    node.classList.remove("pending");
    node.classList.add("sent");
    node.querySelector(".status").textContent = "Sent ✓";
  }

  function onError(frame) {
    if (frame.client_id) {
      state.outbox.delete(frame.client_id);
      const node = $("transcript").querySelector(`[data-client-id="${CSS.escape(frame.client_id)}"]`);
      if (node) {
        node.classList.remove("pending");
        node.classList.add("failed");
        node.querySelector(".status").textContent = "Not sent: " + frame.detail;
        return;
      }
    }
    if (frame.code !== "unknown_conversation") toast(frame.detail || "Something went wrong.", "error");
  }

  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    sendMessage();
  });

  $("composer-text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      sendMessage();
    }
  });

  $("composer-text").addEventListener("input", () => {
    if (!state.current) return;
    if (!$("composer-text").value.trim()) return stopTyping();
    if (!state.typingSent) {
      state.typingSent = send({ type: "typing", conversation_id: state.current, active: true });
    }
    clearTimeout(state.typingTimer);
    state.typingTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
  });

  function stopTyping() {
    clearTimeout(state.typingTimer);
    if (state.typingSent && state.current) send({ type: "typing", conversation_id: state.current, active: false });
    state.typingSent = false;
  }

  function sendMessage() {
    const box = $("composer-text");
    const text = box.value.trim();
    if (!text || !state.current) return;
    stopTyping();
    const clientId = newClientId();
    const frame = { type: "message", conversation_id: state.current, client_id: clientId, text };
    state.outbox.set(clientId, frame);
    addLine({ sender: "agent", agent_name: state.me.name, text }, clientId);
    box.value = "";
    if (!send(frame)) toast("Offline: the message is sent as soon as the connection is back.", "warn");
  }

  function onTyping(frame) {
    if (frame.conversation_id !== state.current || frame.sender !== "customer") return;
    showPeerTyping(Boolean(frame.active));
  }

  function showPeerTyping(active) {
    clearTimeout(state.peerTypingTimer);
    $("typing").textContent = active ? "Customer is typing…" : "";
    if (active) state.peerTypingTimer = setTimeout(() => showPeerTyping(false), PEER_TYPING_MS);
  }

  // ------------------------------------------------------- customer panel

  function renderCustomer(view) {
    const summary = (view.handoff && view.handoff.summary) || "No summary.";
    $("summary").textContent = summary;

    const services = $("services");
    services.replaceChildren();
    const customer = view.customer;
    if (!customer) {
      services.append(el("p", { class: "muted", text: "Not identified" }));
    } else {
      const list = el("dl", { class: "kv" });
      for (const [key, value] of Object.entries(customer)) {
        if (key === "devices") continue;
        list.append(el("dt", { text: capital(key.replace(/_/g, " ")) }), el("dd", { text: describe(value) }));
      }
      services.append(list);
      if (Array.isArray(customer.devices)) {
        services.append(
          el(
            "ul",
            { class: "plain devices" },
            ...customer.devices.map((d) =>
              el(
                "li",
                {},
                el("strong", { text: `${d.type || "Device"} ${d.model || ""}`.trim() }),
                el("span", { class: "muted", text: ` · #${d.id}${d.serial ? " · " + d.serial : ""}${d.warranty_end ? " · warranty to " + d.warranty_end : ""}` })
              )
            )
          )
        );
      }
    }

    const tickets = $("tickets");
    tickets.replaceChildren(
      ...view.tickets.map((t) =>
        el(
          "li",
          { class: "ticket" },
          el("strong", { text: t.number }),
          " ",
          el("span", { text: t.title }),
          el("span", { class: "muted", text: ` · ${t.domain} · ${t.status}` }),
          ...(t.contact ? [el("span", { class: "ticket-contact", text: ` · contact: ${t.contact}` })] : [])
        )
      )
    );
    if (!view.tickets.length) tickets.append(el("li", { class: "muted", text: "No tickets." }));
  }

  function describe(value) {
    if (value === null || value === undefined) return "–";
    if (Array.isArray(value)) return value.map(describe).join("; ");
    if (typeof value === "object") {
      return Object.entries(value)
        .map(([k, v]) => `${k}: ${describe(v)}`)
        .join(", ");
    }
    return String(value);
  }

  function addNote(note) {
    const notes = $("notes");
    if (note.id !== undefined && notes.querySelector(`[data-note="${Number(note.id)}"]`)) return;
    notes.append(
      el(
        "li",
        { class: "note", "data-note": note.id !== undefined ? Number(note.id) : null },
        el(
          "div",
          { class: "msg-head" },
          el("span", { class: "who", text: note.author }),
          el("time", { datetime: note.created_at, text: clock(note.created_at) })
        ),
        el("div", { class: "note-text", text: note.text })
      )
    );
  }

  $("note-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const box = $("note-text");
    const text = box.value.trim();
    if (!text || !state.current) return;
    const conversationId = state.current;
    try {
      const note = await api("POST", `/conversations/${conversationId}/notes`, { text });
      box.value = "";
      if (conversationId === state.current) addNote(note);
    } catch (error) {
      toast(error.message, "error");
    }
  });

  // -------------------------------------------------------------- actions

  function field(label, control) {
    const id = `f-${Math.random().toString(36).slice(2, 9)}`;
    control.id = id;
    return el("div", { class: "field" }, el("label", { for: id, text: label }), control);
  }

  /* A modal form. build() returns the fields; submit(values) does the work. */
  function dialog(title, okLabel, fields, submit) {
    const box = $("dialog");
    $("dialog-title").textContent = title;
    $("dialog-body").replaceChildren(...fields);
    $("dialog-ok").textContent = okLabel;
    const error = $("dialog-error");
    error.hidden = true;
    const form = $("dialog-form");
    form.onsubmit = async (event) => {
      event.preventDefault();
      $("dialog-ok").disabled = true;
      try {
        await submit();
        box.close();
      } catch (failure) {
        error.textContent = failure.message;
        error.hidden = false;
      } finally {
        $("dialog-ok").disabled = false;
      }
    };
    box.showModal();
    const first = $("dialog-body").querySelector("input, select, textarea");
    (first || $("dialog-ok")).focus();
  }
  $("dialog-cancel").addEventListener("click", () => $("dialog").close());

  function currentHandoff() {
    const handoff = state.mine.find((h) => h.conversation_id === state.current) || (state.view && state.view.handoff);
    if (!handoff) throw new HttpError(0, "This chat has no handoff.");
    return handoff;
  }

  async function act(path, body, done, leaves) {
    const handoff = currentHandoff();
    await api("POST", `/handoffs/${handoff.id}/${path}`, body);
    toast(done, "ok");
    if (leaves && !isSupervisor()) {
      // Escalated or transferred: the chat is no longer ours to read.
      state.watched.delete(state.current);
      closeChat();
      renderQueue();
      return;
    }
    await loadConversation(state.current, { keepScroll: true });
  }

  const ACTIONS = {
    escalate() {
      const note = el("textarea", { rows: 3, maxlength: 4000 });
      dialog("Escalate to tier 3", "Escalate", [field("Note for the specialist", note)], () =>
        act("escalate", { note: note.value.trim() }, "Escalated to tier 3.", true)
      );
    },
    transfer() {
      const skill = el("select", {}, el("option", { value: "", text: "Choose a skill…" }), ...SKILLS.map((s) => el("option", { value: s, text: capital(s) })));
      const agent = el("input", { type: "number", min: 1, inputmode: "numeric" });
      const note = el("textarea", { rows: 3, maxlength: 4000 });
      dialog(
        "Transfer",
        "Transfer",
        [field("To a skill's queue", skill), field("Or to an agent (id)", agent), field("Note", note)],
        () => {
          const body = { note: note.value.trim() };
          if (agent.value) body.agent_id = Number(agent.value);
          else if (skill.value) body.skill = skill.value;
          else throw new HttpError(0, "Choose a skill or enter an agent id.");
          return act("transfer", body, "Chat transferred.", true);
        }
      );
    },
    "hand-back"() {
      act("hand-back", undefined, "Handed back to the assistant.").catch((error) => toast(error.message, "error"));
    },
    resolve() {
      dialog(
        "Resolve this chat?",
        "Resolve",
        [el("p", { text: "The chat closes and the customer is asked to rate it." })],
        () => act("resolve", undefined, "Chat resolved.")
      );
    },
  };

  // Parts, visits, goodwill and tickets: forms over their REST endpoints.
  const customerId = () => (state.view && state.view.customer && state.view.customer.id) || "";
  const idempotencyKey = () => ({ "Idempotency-Key": newClientId() });

  function input(attrs) {
    return el("input", attrs);
  }

  function select(options, attrs) {
    return el("select", attrs || {}, ...options.map(([value, label]) => el("option", { value, text: label })));
  }

  function ticketSelect(optional) {
    const tickets = (state.view && state.view.tickets) || [];
    return select([...(optional ? [["", "No ticket"]] : []), ...tickets.map((t) => [t.number, `${t.number} – ${t.title}`])]);
  }

  function needCustomer(box) {
    const value = Number(box.value);
    if (!value) throw new HttpError(0, "Enter the customer's id.");
    return value;
  }

  async function note(text) {
    // Keep a trace of what was done in the chat's internal notes.
    const conversationId = state.current;
    try {
      const created = await api("POST", `/conversations/${conversationId}/notes`, { text });
      if (conversationId === state.current) addNote(created);
    } catch (error) {
      /* the action itself succeeded */
    }
  }

  Object.assign(ACTIONS, {
    async part() {
      const customer = input({ type: "number", min: 1, value: customerId(), required: true });
      const part = select([["", "Choose a part…"]]);
      const device = input({ type: "number", min: 1 });
      const ticket = ticketSelect(true);
      const address = input({ maxlength: 300 });
      const price = input({ type: "number", min: 0, step: "0.01" });
      api("GET", "/parts")
        .then((parts) => parts.forEach((p) => part.append(el("option", { value: p.part_number, text: `${p.part_number} – ${p.name} (${p.stock} in stock)` }))))
        .catch(() => {});
      const key = idempotencyKey();
      dialog(
        "Order a part",
        "Order",
        [
          field("Customer id", customer),
          field("Part", part),
          field("Device id (optional)", device),
          field("Ticket", ticket),
          field("Shipping address (optional)", address),
          field("Accepted price, EUR (out of warranty)", price),
        ],
        async () => {
          if (!part.value) throw new HttpError(0, "Choose a part.");
          const body = { customer_id: needCustomer(customer), part_number: part.value };
          if (device.value) body.device_id = Number(device.value);
          if (ticket.value) body.ticket_number = ticket.value;
          if (address.value.trim()) body.shipping_address = address.value.trim();
          if (price.value) body.accepted_price = price.value;
          const order = await api("POST", "/part-orders", body, key);
          toast(`Part order ${order.number} placed.`, "ok");
          await note(`Ordered part ${order.part_number} (${order.part_name}), order ${order.number}.`);
        }
      );
    },
    async visit() {
      const customer = input({ type: "number", min: 1, value: customerId(), required: true });
      const area = input({ value: (state.view && state.view.customer && state.view.customer.service_area) || "" });
      const slot = select([["", "Find free slots first"]]);
      const ticket = ticketSelect(true);
      const find = el("button", { type: "button", text: "Find free slots" });
      find.addEventListener("click", async () => {
        try {
          const slots = await api("GET", `/visits/slots?service_area=${encodeURIComponent(area.value.trim())}&limit=8`);
          slot.replaceChildren(
            ...(slots.length
              ? slots.map((x) => el("option", { value: JSON.stringify([x.technician_id, x.starts_at]), text: `${x.label} – ${x.technician_name}` }))
              : [el("option", { value: "", text: "No free slots" })])
          );
        } catch (error) {
          $("dialog-error").textContent = error.message;
          $("dialog-error").hidden = false;
        }
      });
      const key = idempotencyKey();
      dialog(
        "Book a technician visit",
        "Book",
        [field("Customer id", customer), field("Service area", area), find, field("Slot", slot), field("Ticket", ticket)],
        async () => {
          if (!slot.value) throw new HttpError(0, "Choose a slot.");
          const [technicianId, startsAt] = JSON.parse(slot.value);
          const body = { customer_id: needCustomer(customer), technician_id: technicianId, starts_at: startsAt };
          if (ticket.value) body.ticket_number = ticket.value;
          const visit = await api("POST", "/visits", body, key);
          toast("Visit booked.", "ok");
          await note(`Booked a technician visit (${slot.selectedOptions[0].textContent}), visit ${visit.id}.`);
        }
      );
    },
    async goodwill() {
      const customer = input({ type: "number", min: 1, value: customerId(), required: true });
      const kind = select([["service_credit", "Service credit"], ["free_service", "Free service"], ["device_replacement", "Device replacement"]]);
      const amount = input({ type: "number", min: 0, step: "0.01", value: "0" });
      const description = input({ maxlength: 300, required: true });
      const reason = el("textarea", { rows: 2, maxlength: 2000, required: true });
      const ticket = ticketSelect(true);
      const key = idempotencyKey();
      dialog(
        "Offer a goodwill gesture",
        "Offer",
        [field("Customer id", customer), field("Kind", kind), field("Amount, EUR", amount), field("Description", description), field("Reason", reason), field("Ticket", ticket)],
        async () => {
          const body = {
            customer_id: needCustomer(customer),
            kind: kind.value,
            amount: amount.value || "0",
            description: description.value.trim(),
            reason: reason.value.trim(),
          };
          if (ticket.value) body.ticket_number = ticket.value;
          await api("POST", "/goodwill", body, key);
          toast("Goodwill gesture recorded.", "ok");
          await note(`Offered goodwill: ${body.description} (${kind.selectedOptions[0].textContent}, ${body.amount} EUR).`);
        }
      );
    },
    async ticket() {
      const ticket = ticketSelect(false);
      if (!ticket.options.length) return toast("This chat has no ticket yet.", "warn");
      const status = select([["", "Keep"], ...["new", "open", "pending_customer", "pending_part", "visit_scheduled", "resolved", "closed"].map((x) => [x, x.replace(/_/g, " ")])]);
      const priority = select([["", "Keep"], ["low", "low"], ["normal", "normal"], ["high", "high"], ["urgent", "urgent"]]);
      const text = el("textarea", { rows: 2, maxlength: 4000 });
      dialog(
        "Update ticket",
        "Update",
        [field("Ticket", ticket), field("Status", status), field("Priority", priority), field("Note on the ticket", text)],
        async () => {
          const body = {};
          if (status.value) body.status = status.value;
          if (priority.value) body.priority = priority.value;
          if (text.value.trim()) body.note = text.value.trim();
          if (!Object.keys(body).length) throw new HttpError(0, "Change something first.");
          await api("PATCH", `/tickets/${encodeURIComponent(ticket.value)}`, body);
          toast(`Ticket ${ticket.value} updated.`, "ok");
          await loadConversation(state.current, { keepScroll: true });
        }
      );
    },
  });

  $("actions").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button || button.disabled) return;
    const action = ACTIONS[button.dataset.action];
    if (action) action();
  });

  $("chat-claim").addEventListener("click", () => {
    const handoff = state.waiting.find((h) => h.conversation_id === state.current);
    if (handoff) claim(handoff);
  });

  // ------------------------------------------------------------- overview

  function showTab(name) {
    const overview = name === "overview" && isSupervisor();
    $("tab-chats").setAttribute("aria-pressed", String(!overview));
    $("tab-overview").setAttribute("aria-pressed", String(overview));
    $("overview").hidden = !overview;
    $("chat").hidden = overview;
    document.querySelector(".sidebar").hidden = overview;
    $("customer").hidden = overview || !state.current;
    clearInterval(state.overviewTimer);
    if (overview) {
      loadOverview();
      state.overviewTimer = setInterval(loadOverview, 5000);
    }
  }
  $("tab-chats").addEventListener("click", () => showTab("chats"));
  $("tab-overview").addEventListener("click", () => showTab("overview"));

  async function loadOverview() {
    let data;
    try {
      data = await api("GET", "/agents/overview");
    } catch (error) {
      $("ov-updated").textContent = error.message;
      return;
    }
    const cell = (text, cls) => el("td", { class: cls || null, text });
    $("ov-queues").replaceChildren(
      ...(data.queues.length
        ? data.queues.map((q) =>
            el("tr", {}, cell(capital(q.skill)), cell(`Tier ${q.tier}`), cell(String(q.waiting), "num"), cell(duration(q.longest_wait_seconds), "num"))
          )
        : [el("tr", {}, el("td", { colspan: 4, class: "muted", text: "No chats waiting." }))])
    );
    $("ov-agents").replaceChildren(
      ...data.agents.map((a) =>
        el(
          "tr",
          { class: a.active ? null : "inactive" },
          cell(a.name),
          cell(a.email),
          cell(capital(a.role)),
          cell(String(a.tier), "num"),
          cell(a.skills.join(", ") + (a.languages ? ` · ${a.languages.map(languageName).join(", ")}` : "")),
          cell(`${a.active_chats}/${a.capacity}`, a.active_chats >= a.capacity ? "num full" : "num"),
          el("td", {}, el("span", { class: a.online ? "dot on" : "dot", text: a.online ? "Online" : "Offline" }))
        )
      )
    );
    $("ov-updated").textContent = `Updated ${new Date().toLocaleTimeString()}`;
    emit("overview");
  }

  $("agent-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      name: $("ag-name").value.trim(),
      email: $("ag-email").value.trim(),
      password: $("ag-password").value,
      role: $("ag-role").value,
      tier: Number($("ag-tier").value),
      skills: [...document.querySelectorAll("#ag-skills input:checked")].map((box) => box.value),
      capacity: Number($("ag-capacity").value || 3),
      languages: [...document.querySelectorAll("#ag-languages input:checked")].map((box) => box.value),
    };
    if (!body.skills.length) return toast("Choose at least one skill.", "error");
    if (!body.languages.length) {
      toast("Choose at least one language the agent chats in.", "error");
      return;
    }
    try {
      const agent = await api("POST", "/agents", body);
      event.target.reset();
      toast(`${agent.name} can now sign in (agent id ${agent.id}).`, "ok");
      loadOverview();
    } catch (error) {
      toast(error.message, "error");
    }
  });

  window.SupportConsole = {
    state,
    api,
    el,
    toast,
    since,
    clock,
    capital,
    openChat,
    claim,
    showTab,
    renderQueue,
    isSupervisor,
    on(name, listener) {
      (listeners[name] = listeners[name] || []).push(listener);
    },
    setQueueView(view) {
      queueView = view;
      renderQueue();
    },
  };

  // ----------------------------------------------------------------- start

  async function start() {
    try {
      const me = await fetch("/auth/me", { credentials: "same-origin" });
      if (me.ok) return showApp(await me.json());
    } catch (error) {
      /* fall through to the sign-in form */
    }
    showSignin("");
  }

  start();
})();
