/* Agent console, shift tools: notifications, canned responses, queue filters and paging,
 * keyboard shortcuts with their help overlay.
 *
 * Builds on console.js through window.SupportConsole. Plain JS; every piece of data is
 * rendered with textContent, never as HTML. See docs/console.md.
 */
(function () {
  "use strict";

  const C = window.SupportConsole;
  if (!C) return;
  const { state, api, el, toast } = C;
  const $ = (id) => document.getElementById(id);
  const BASE_TITLE = "Agent console";
  const PAGE_SIZE = 20;
  const SKILLS = ["internet", "cable", "hardware", "software", "other"];

  // ------------------------------------------------------- notifications

  const notify = {
    knownWaiting: null, // ids of queue entries already seen (null until the first queue)
    unseen: new Set(), // conversation ids with customer messages I have not looked at
    sound: localStorage.getItem("console.sound") === "on",
    audio: null,
  };

  $("notify-sound").checked = notify.sound;
  $("notify-sound").addEventListener("change", (event) => {
    notify.sound = event.target.checked;
    localStorage.setItem("console.sound", notify.sound ? "on" : "off");
    if (notify.sound) beep();
  });

  function refreshDesktopButton() {
    const button = $("notify-desktop");
    button.hidden = !("Notification" in window) || Notification.permission !== "default";
  }
  $("notify-desktop").addEventListener("click", async () => {
    try {
      const answer = await Notification.requestPermission();
      toast(answer === "granted" ? "Desktop notifications are on." : "Desktop notifications stay off.", "info");
    } catch (error) {
      toast("This browser does not offer desktop notifications.", "warn");
    }
    refreshDesktopButton();
  });
  refreshDesktopButton();

  function beep() {
    try {
      notify.audio = notify.audio || new AudioContext();
      const ctx = notify.audio;
      const tone = ctx.createOscillator();
      const gain = ctx.createGain();
      tone.frequency.value = 880;
      gain.gain.setValueAtTime(0.15, ctx.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.001, ctx.currentTime + 0.35);
      tone.connect(gain).connect(ctx.destination);
      tone.start();
      tone.stop(ctx.currentTime + 0.35);
      document.body.dataset.lastSound = String(Date.now());
    } catch (error) {
      /* no audio: the title and the list still show it */
    }
  }

  function alertAgent(title, body, conversationId) {
    if (notify.sound) beep();
    const lookingAtIt = document.visibilityState === "visible" && document.hasFocus() && state.current === conversationId;
    if (lookingAtIt || !("Notification" in window) || Notification.permission !== "granted") return;
    const shown = new Notification(title, { body, tag: `chat-${conversationId}` });
    shown.onclick = () => {
      window.focus();
      C.openChat(conversationId);
      shown.close();
    };
  }

  function updateTitle() {
    const count = state.waiting.length + notify.unseen.size;
    document.title = count ? `(${count}) ${BASE_TITLE}` : BASE_TITLE;
  }

  C.on("frame", (frame) => {
    if (frame.type === "queue") {
      const ids = new Set((frame.waiting || []).map((h) => h.id));
      if (notify.knownWaiting !== null) {
        for (const h of frame.waiting || []) {
          if (!notify.knownWaiting.has(h.id)) {
            alertAgent(`New chat: ${h.skill}, tier ${h.tier}`, h.title || h.reason, h.conversation_id);
          }
        }
      }
      notify.knownWaiting = ids;
      const mine = new Set((frame.mine || []).map((h) => h.conversation_id));
      for (const id of [...notify.unseen]) if (!mine.has(id)) notify.unseen.delete(id);
      setTimeout(updateTitle);
    } else if (frame.type === "message" && frame.sender === "customer") {
      const id = frame.conversation_id;
      if (!state.mine.some((h) => h.conversation_id === id)) return;
      const away = state.current !== id || document.visibilityState !== "visible" || !document.hasFocus();
      if (away) {
        notify.unseen.add(id);
        updateTitle();
      }
      const chat = state.mine.find((h) => h.conversation_id === id);
      alertAgent(`New message from ${(chat && chat.title) || "a customer"}`, frame.text, id);
    }
  });
  C.on("chat", (view) => {
    notify.unseen.delete(view.conversation_id);
    updateTitle();
  });
  const seenAgain = () => {
    if (document.visibilityState === "visible" && state.current) {
      notify.unseen.delete(state.current);
      updateTitle();
    }
  };
  window.addEventListener("focus", seenAgain);
  document.addEventListener("visibilitychange", seenAgain);

  // ------------------------------------------------- queue filters, paging

  const filters = { skill: "", tier: "", language: "", wait: "", sort: "priority", page: 0 };
  const PRIORITY = { urgent: 0, high: 1, normal: 2, low: 3 };
  for (const skill of SKILLS) $("qf-skill").append(el("option", { value: skill, text: C.capital(skill) }));

  function queueView(waiting) {
    const now = Date.now();
    let chosen = waiting.filter(
      (h) =>
        (!filters.skill || h.skill === filters.skill) &&
        (!filters.tier || String(h.tier) === filters.tier) &&
        (!filters.language || h.language === filters.language) &&
        (!filters.wait || (now - Date.parse(h.waiting_since)) / 1000 >= Number(filters.wait))
    );
    const oldest = (a, b) => Date.parse(a.waiting_since) - Date.parse(b.waiting_since);
    if (filters.sort === "longest_wait") chosen = chosen.slice().sort(oldest);
    else if (filters.sort === "newest") chosen = chosen.slice().sort((a, b) => oldest(b, a));
    else chosen = chosen.slice().sort((a, b) => (PRIORITY[a.priority] ?? 2) - (PRIORITY[b.priority] ?? 2) || oldest(a, b));
    const pages = Math.max(1, Math.ceil(chosen.length / PAGE_SIZE));
    filters.page = Math.min(filters.page, pages - 1);
    const shown = chosen.slice(filters.page * PAGE_SIZE, (filters.page + 1) * PAGE_SIZE);
    $("queue-pager").hidden = pages <= 1;
    $("qp-info").textContent = `Page ${filters.page + 1} of ${pages} · ${chosen.length} shown of ${waiting.length}`;
    $("qp-prev").disabled = filters.page === 0;
    $("qp-next").disabled = filters.page >= pages - 1;
    return { shown, total: chosen.length, ordered: chosen };
  }
  let lastView = { shown: [], ordered: [] };
  C.on("queue", (view) => (lastView = view));

  for (const [id, key] of [
    ["qf-skill", "skill"],
    ["qf-tier", "tier"],
    ["qf-language", "language"],
    ["qf-wait", "wait"],
    ["qf-sort", "sort"],
  ]) {
    $(id).addEventListener("change", (event) => {
      filters[key] = event.target.value;
      filters.page = 0;
      C.renderQueue();
    });
  }
  $("queue-filters").addEventListener("submit", (event) => event.preventDefault());
  $("qp-prev").addEventListener("click", () => {
    filters.page = Math.max(0, filters.page - 1);
    C.renderQueue();
  });
  $("qp-next").addEventListener("click", () => {
    filters.page += 1;
    C.renderQueue();
  });
  C.setQueueView(queueView);

  // ---------------------------------------------------- canned responses

  const canned = { all: [], loaded: false, matches: [], index: 0 };

  async function loadCanned() {
    try {
      canned.all = await api("GET", "/canned-responses");
      canned.loaded = true;
    } catch (error) {
      canned.all = [];
    }
    renderCannedList();
  }

  const box = $("composer-text");
  const menu = $("canned-menu");

  function slashWord() {
    // "/word" at the start of the box or after a space, ending at the cursor.
    const before = box.value.slice(0, box.selectionStart);
    const match = /(^|\s)\/([\w-]*)$/.exec(before);
    return match ? { query: match[2].toLowerCase(), start: before.length - match[2].length - 1 } : null;
  }

  function showMenu() {
    const word = slashWord();
    if (!word) return hideMenu();
    if (!canned.loaded) loadCanned().then(showMenu);
    canned.matches = canned.all.filter(
      (r) => r.shortcut.startsWith(word.query) || r.title.toLowerCase().includes(word.query)
    );
    canned.index = Math.min(canned.index, Math.max(0, canned.matches.length - 1));
    menu.replaceChildren(
      ...(canned.matches.length
        ? canned.matches.map((r, i) =>
            el(
              "li",
              {
                role: "option",
                id: `canned-${r.id}`,
                "aria-selected": String(i === canned.index),
                class: i === canned.index ? "active" : null,
                onmousedown: (event) => {
                  event.preventDefault();
                  insert(r);
                },
              },
              el("strong", { text: `/${r.shortcut}` }),
              " ",
              el("span", { text: r.title }),
              el("span", { class: "muted", text: ` · ${r.text_en}` })
            )
          )
        : [el("li", { class: "muted", text: canned.loaded ? "No canned response matches." : "Loading…" })])
    );
    menu.hidden = false;
    box.setAttribute("aria-expanded", "true");
  }

  function hideMenu() {
    menu.hidden = true;
    canned.matches = [];
    canned.index = 0;
    box.setAttribute("aria-expanded", "false");
  }

  async function insert(response) {
    const word = slashWord();
    hideMenu();
    let text = response.text_en;
    try {
      const rendered = await api("POST", `/canned-responses/${response.id}/render`, {
        conversation_id: state.current,
      });
      text = rendered.text;
    } catch (error) {
      toast(error.message, "error");
      return;
    }
    const start = word ? word.start : box.selectionStart;
    box.value = box.value.slice(0, start) + text + box.value.slice(box.selectionStart);
    const cursor = start + text.length;
    box.focus();
    box.setSelectionRange(cursor, cursor);
    box.dispatchEvent(new Event("input"));
  }

  box.addEventListener("input", showMenu);
  box.addEventListener("blur", () => setTimeout(hideMenu, 150));
  // Capturing on the form runs before console.js's Enter-to-send on the box.
  $("composer").addEventListener(
    "keydown",
    (event) => {
      if (menu.hidden || event.target !== box) return;
      const keys = { ArrowDown: 1, ArrowUp: -1 };
      if (event.key in keys && canned.matches.length) {
        canned.index = (canned.index + keys[event.key] + canned.matches.length) % canned.matches.length;
        showMenu();
      } else if ((event.key === "Enter" || event.key === "Tab") && canned.matches.length) {
        insert(canned.matches[canned.index]);
      } else if (event.key === "Escape") {
        hideMenu();
      } else {
        return;
      }
      event.preventDefault();
      event.stopPropagation();
    },
    true
  );

  // Supervisors manage them on the Overview tab.
  function renderCannedList() {
    const list = $("canned-list");
    if (!list) return;
    const cell = (text) => el("td", { text });
    list.replaceChildren(
      ...(canned.all.length
        ? canned.all.map((r) =>
            el(
              "tr",
              { "data-shortcut": r.shortcut },
              cell(`/${r.shortcut}`),
              cell(r.title),
              cell(r.text_en),
              cell(r.text_de),
              el(
                "td",
                {},
                el("button", { type: "button", onclick: () => editCanned(r) }, "Edit"),
                " ",
                el("button", { type: "button", onclick: () => removeCanned(r) }, "Delete")
              )
            )
          )
        : [el("tr", {}, el("td", { colspan: 5, class: "muted", text: "No canned responses yet." }))])
    );
  }

  function editCanned(response) {
    $("cf-id").value = String(response.id);
    $("cf-shortcut").value = response.shortcut;
    $("cf-title").value = response.title;
    $("cf-en").value = response.text_en;
    $("cf-de").value = response.text_de;
    $("cf-save").textContent = `Save /${response.shortcut}`;
    $("cf-shortcut").focus();
  }

  function clearCannedForm() {
    $("canned-form").reset();
    $("cf-id").value = "";
    $("cf-save").textContent = "Save canned response";
  }
  $("cf-clear").addEventListener("click", clearCannedForm);

  async function removeCanned(response) {
    if (!window.confirm(`Delete /${response.shortcut}?`)) return;
    try {
      await api("DELETE", `/canned-responses/${response.id}`);
      toast(`/${response.shortcut} deleted.`, "ok");
      loadCanned();
    } catch (error) {
      toast(error.message, "error");
    }
  }

  $("canned-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const id = $("cf-id").value;
    const body = {
      shortcut: $("cf-shortcut").value.trim(),
      title: $("cf-title").value.trim(),
      text_en: $("cf-en").value.trim(),
      text_de: $("cf-de").value.trim(),
    };
    try {
      const saved = await api(id ? "PUT" : "POST", id ? `/canned-responses/${id}` : "/canned-responses", body);
      toast(`/${saved.shortcut} saved.`, "ok");
      clearCannedForm();
      loadCanned();
    } catch (error) {
      toast(error.message, "error");
    }
  });

  let cannedShown = false;
  C.on("overview", () => {
    if (!cannedShown) {
      cannedShown = true;
      loadCanned();
    }
  });
  C.on("frame", (frame) => {
    if (frame.type === "hello") loadCanned();
  });

  // ---------------------------------------------------- keyboard shortcuts

  function typingInField(target) {
    return target instanceof HTMLElement && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  function stepMine(direction) {
    if (!state.mine.length) return toast("You have no active chats.", "info");
    const index = state.mine.findIndex((h) => h.conversation_id === state.current);
    const next = state.mine[(index + direction + state.mine.length) % state.mine.length];
    C.openChat(next.conversation_id);
  }

  function claimNext() {
    const next = (lastView.ordered || lastView.shown || [])[0];
    if (!next) return toast("No chats waiting.", "info");
    C.claim(next);
  }

  function resolveCurrent() {
    const button = document.querySelector('#actions [data-action="resolve"]');
    if (!state.current || !button || button.disabled || $("actions").hidden) {
      return toast("Open one of your chats to resolve it.", "info");
    }
    button.click();
  }

  const help = $("help");
  function showHelp() {
    if (!help.open) help.showModal();
    $("help-close").focus();
  }
  $("open-help").addEventListener("click", showHelp);
  $("help-close").addEventListener("click", () => help.close());

  document.addEventListener("keydown", (event) => {
    if ($("app").hidden || event.defaultPrevented) return;
    const modal = document.querySelector("dialog[open]");
    if (event.altKey && !event.ctrlKey && !event.metaKey && !modal) {
      const actions = {
        KeyN: claimNext,
        ArrowDown: () => stepMine(1),
        ArrowUp: () => stepMine(-1),
        KeyR: resolveCurrent,
        KeyM: () => (!$("composer").hidden ? box.focus() : toast("Claim the chat to reply.", "info")),
        KeyF: () => $("open-search").click(),
        KeyH: showHelp,
      };
      const action = actions[event.code];
      if (action) {
        event.preventDefault();
        action();
      }
      return;
    }
    if (event.key === "?" && !typingInField(event.target) && !modal) {
      event.preventDefault();
      showHelp();
    }
  });
})();
