/* Customer support chat widget: a launcher button and a chat panel in a shadow root,
   talking to the support gateway over the /ws/chat websocket (docs/protocol.md).
   Embed with <script src=".../widget/widget.js" async></script>; options in docs/widget.md. */
(function () {
  'use strict';
  var d = document;
  // One widget per page, even if the snippet is pasted twice.
  if (d.documentElement.hasAttribute('data-nw-support-chat')) return;
  d.documentElement.setAttribute('data-nw-support-chat', '');

  var script = d.currentScript || d.querySelector('script[src*="widget.js"]');
  var ds = (script && script.dataset) || {};

  var STR = {
    en: {
      title: 'Support', open: 'Open support chat', close: 'Close chat', unread: ['new message', 'new messages'],
      bot: 'Assistant', agent: 'Agent', you: 'You', system: 'Notice',
      greeting: "Hi! Tell me in your own words what's wrong, and I'll help you fix it.",
      human: 'Talk to a person', humanText: "I'd like to talk to a person",
      placeholder: 'Type your message…', message: 'Message', send: 'Send',
      conversation: 'Conversation', replies: 'Quick replies',
      sOnline: 'Virtual assistant · online', sQueued: 'Waiting for a person…', sAgent: 'Chatting with ',
      sClosed: 'Conversation ended', sConnecting: 'Connecting…', sReconnecting: 'Reconnecting…',
      banner: 'Connection lost. Reconnecting… Your messages will be sent as soon as we are back.',
      sending: 'Sending…', waiting: 'Waiting for connection', sent: 'Sent', failed: 'Not sent',
      typing: ' is typing…', download: 'Download transcript', end: 'End chat',
      rateQ: 'How did we do?', rates: ['Very poor', 'Poor', 'OK', 'Good', 'Excellent'], of: ' of 5',
      comment: 'Comment (optional)', submit: 'Send rating', thanks: 'Thank you for your feedback!',
      newChat: 'Start a new conversation', back: 'Continue chatting', newConv: 'New conversation', transcript: 'Chat transcript',
      newTab: '(opens in a new tab)',
      errors: {
        message_too_large: 'This message is too long.', rate_limited: 'Too many messages; please wait a moment.',
        invalid_message: 'This message could not be sent.', conversation_closed: 'This conversation has ended.'
      }
    },
    de: {
      title: 'Support', open: 'Support-Chat öffnen', close: 'Chat schließen', unread: ['neue Nachricht', 'neue Nachrichten'],
      bot: 'Assistent', agent: 'Agent', you: 'Sie', system: 'Hinweis',
      greeting: 'Hallo! Beschreiben Sie Ihr Problem in eigenen Worten – ich helfe Ihnen, es zu lösen.',
      human: 'Mit einem Menschen sprechen', humanText: 'Ich möchte mit einem Menschen sprechen',
      placeholder: 'Nachricht eingeben…', message: 'Nachricht', send: 'Senden',
      conversation: 'Unterhaltung', replies: 'Antwortvorschläge',
      sOnline: 'Virtueller Assistent · online', sQueued: 'Sie werden verbunden…', sAgent: 'Im Chat mit ',
      sClosed: 'Unterhaltung beendet', sConnecting: 'Verbinde…', sReconnecting: 'Verbindung wird wiederhergestellt…',
      banner: 'Verbindung unterbrochen. Ihre Nachrichten werden gesendet, sobald die Verbindung wieder steht.',
      sending: 'Wird gesendet…', waiting: 'Wartet auf Verbindung', sent: 'Gesendet', failed: 'Nicht gesendet',
      typing: ' schreibt…', download: 'Verlauf herunterladen', end: 'Chat beenden',
      rateQ: 'Wie zufrieden waren Sie?', rates: ['Sehr schlecht', 'Schlecht', 'Okay', 'Gut', 'Sehr gut'], of: ' von 5',
      comment: 'Kommentar (optional)', submit: 'Bewertung senden', thanks: 'Vielen Dank für Ihr Feedback!',
      newChat: 'Neue Unterhaltung beginnen', back: 'Weiter chatten', newConv: 'Neue Unterhaltung', transcript: 'Chatverlauf',
      newTab: '(öffnet in neuem Tab)',
      errors: {
        message_too_large: 'Diese Nachricht ist zu lang.', rate_limited: 'Zu viele Nachrichten – bitte warten Sie einen Moment.',
        invalid_message: 'Diese Nachricht konnte nicht gesendet werden.', conversation_closed: 'Diese Unterhaltung ist beendet.'
      }
    }
  };
  // The widget's language: data-lang, else the first of the browser's languages we speak,
  // else the page's <html lang>, else English. It is also the server's hint for the
  // conversation's language (docs/protocol.md).
  function supported(code) { code = String(code || '').slice(0, 2).toLowerCase(); return STR[code] ? code : null; }
  var lang = supported(ds.lang || ds.language);
  if (!lang) {
    var prefs = (navigator.languages && navigator.languages.length) ? navigator.languages : [navigator.language];
    for (var li = 0; li < prefs.length && !lang; li++) lang = supported(prefs[li]);
  }
  lang = lang || supported(d.documentElement.lang) || 'en';
  var t = STR[lang];
  var title = ds.title || t.title;
  var greeting = ds.greeting != null ? ds.greeting : t.greeting;
  var MAX = 2000;

  // Where to connect: data-server, else the origin this script was loaded from.
  var wsUrl;
  try {
    var srv = new URL(ds.server || (script && script.src) || location.href, location.href);
    wsUrl = /^wss?:$/.test(srv.protocol) ? srv.href
      : (srv.protocol === 'https:' ? 'wss://' : 'ws://') + srv.host +
        (ds.server ? srv.pathname.replace(/\/+$/, '') : '') + '/ws/chat';
  } catch (e) { return; }

  // ---- storage (fails soft when storage is blocked) ----
  var KEY = 'nwchat:' + wsUrl + ':';
  function sget(k, def, ss) {
    try { var v = (ss ? sessionStorage : localStorage).getItem(KEY + k); return v == null ? def : JSON.parse(v); } catch (e) { return def; }
  }
  function sset(k, v, ss) {
    try { var s = ss ? sessionStorage : localStorage; if (v == null) s.removeItem(KEY + k); else s.setItem(KEY + k, JSON.stringify(v)); } catch (e) { /* storage unavailable */ }
  }

  // ---- colours: pick readable text on the primary colour, and a darker "ink" for text on white ----
  function rgb(c) {
    var x = d.createElement('canvas').getContext('2d');
    if (!x || !c) return null;
    x.fillStyle = '#010203'; x.fillStyle = c;
    var m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(x.fillStyle);
    if (!m || (x.fillStyle === '#010203' && !/^#010203$/i.test(c))) return null;
    return [parseInt(m[1], 16), parseInt(m[2], 16), parseInt(m[3], 16)];
  }
  function lum(c) {
    var w = [0.2126, 0.7152, 0.0722], s = 0;
    for (var i = 0; i < 3; i++) { var v = c[i] / 255; s += w[i] * (v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4)); }
    return s;
  }
  function contrast(a, b) { var x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); }
  function css(c) { return 'rgb(' + c.join(',') + ')'; }
  var WHITE = [255, 255, 255], BLACK = [17, 17, 17];
  var primary = rgb(ds.color || ds.primaryColor) || [11, 92, 173];
  var onPrimary = contrast(primary, WHITE) >= contrast(primary, BLACK) ? WHITE : BLACK;
  var ink = primary.slice();
  // 5.2:1 on white keeps links at least 4.5:1 on the tinted agent bubble too.
  while (contrast(ink, WHITE) < 5.2) ink = ink.map(function (v) { return Math.floor(v * 0.85); });

  // ---- DOM helpers: text only, never markup from messages ----
  function h(tag, cls, text) {
    var e = d.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }
  function attr(e, o) { for (var k in o) e.setAttribute(k, o[k]); return e; }
  var ICONS = {
    chat: 'M20 2H4c-1.1 0-2 .9-2 2v18l4-4h14c1.1 0 2-.9 2-2V4c0-1.1-.9-2-2-2z',
    close: 'M19 6.41 17.59 5 12 10.59 6.41 5 5 6.41 10.59 12 5 17.59 6.41 19 12 13.41 17.59 19 19 17.59 13.41 12z',
    send: 'M2.01 21 23 12 2.01 3 2 10l15 2-15 2z',
    download: 'M19 9h-4V3H9v6H5l7 7 7-7zM5 18v2h14v-2H5z',
    end: 'M17 7l-1.41 1.41L18.17 11H8v2h10.17l-2.58 2.58L17 17l5-5zM4 5h8V3H4c-1.1 0-2 .9-2 2v14c0 1.1.9 2 2 2h8v-2H4V5z',
    human: 'M12 1c-4.97 0-9 4.03-9 9v7c0 1.66 1.34 3 3 3h3v-8H5v-2c0-3.87 3.13-7 7-7s7 3.13 7 7v2h-4v8h4v1h-7v2h6c1.66 0 3-1.34 3-3V10c0-4.97-4.03-9-9-9z'
  };
  function icon(name, size) {
    var NS = 'http://www.w3.org/2000/svg', s = d.createElementNS(NS, 'svg'), p = d.createElementNS(NS, 'path');
    attr(s, { viewBox: '0 0 24 24', width: size || 20, height: size || 20, 'aria-hidden': 'true', focusable: 'false' });
    attr(p, { d: ICONS[name], fill: 'currentColor' });
    s.appendChild(p);
    return s;
  }
  function iconButton(name, label, cls) {
    var b = attr(h('button', cls || 'ib'), { type: 'button', 'aria-label': label, title: label });
    b.appendChild(icon(name));
    return b;
  }

  // Inline formatting: **bold**, [label](https://…) and bare http(s) links.
  var INLINE = /\*\*([^*\n]+?)\*\*|\[([^\]\n]{1,200})\]\((https?:\/\/[^\s)]+)\)|(https?:\/\/[^\s<>"']+)/g;
  function inline(s, parent) {
    var rx = new RegExp(INLINE.source, 'g'), i = 0, m;
    while ((m = rx.exec(s))) {
      if (m.index > i) parent.appendChild(d.createTextNode(s.slice(i, m.index)));
      if (m[1] != null) inline(m[1], parent.appendChild(h('strong')));
      else if (m[3]) link(m[3], m[2], parent);
      else {
        var url = m[4], tail = /[.,;:!?)\]'"]+$/.exec(url);
        if (tail) url = url.slice(0, -tail[0].length);
        link(url, null, parent);
        if (tail) parent.appendChild(d.createTextNode(tail[0]));
      }
      i = rx.lastIndex;
    }
    if (i < s.length) parent.appendChild(d.createTextNode(s.slice(i)));
  }
  function link(url, label, parent) {
    var u = null;
    try { u = new URL(url); } catch (e) { /* not a URL */ }
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) {
      parent.appendChild(d.createTextNode(label ? '[' + label + '](' + url + ')' : url));
      return;
    }
    var a = attr(h('a', null, label || url), { href: u.href, target: '_blank', rel: 'noopener noreferrer nofollow' });
    a.appendChild(h('span', 'sr', ' ' + t.newTab));
    parent.appendChild(a);
  }
  // Block formatting: paragraphs, line breaks, and "- " bullet lists.
  function format(text, box) {
    var ul = null, p = null;
    String(text).replace(/\r\n?/g, '\n').split('\n').forEach(function (line) {
      var m = /^\s*[-•*]\s+(.*)$/.exec(line);
      if (m) {
        if (!ul) ul = box.appendChild(h('ul'));
        inline(m[1], ul.appendChild(h('li')));
        p = null;
        return;
      }
      ul = null;
      if (!line.trim()) { p = null; return; }
      if (p) p.appendChild(h('br')); else p = box.appendChild(h('p'));
      inline(line, p);
    });
  }

  function time(iso) {
    var dt = iso ? new Date(iso) : new Date();
    return isNaN(dt) ? new Date() : dt;
  }
  function hhmm(dt) { return dt.toLocaleTimeString(lang, { hour: '2-digit', minute: '2-digit' }); }
  function newId() {
    var a = new Uint8Array(12);
    (window.crypto || window.msCrypto).getRandomValues(a);
    return 'c-' + Array.prototype.map.call(a, function (b) { return (b + 256).toString(16).slice(1); }).join('');
  }

  // ---- build the UI ----
  var host = d.createElement('nw-support-chat');
  host.style.setProperty('--p', css(primary));
  host.style.setProperty('--pt', css(onPrimary));
  host.style.setProperty('--ink', css(ink));
  var root = host.attachShadow({ mode: 'open' });
  var CSS = [
    ':host{all:initial}',
    '*{box-sizing:border-box}',
    '.root{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1d2430;-webkit-text-size-adjust:100%}',
    'button,textarea,input{font:inherit;color:inherit}',
    '[hidden]{display:none!important}',
    '.sr{position:absolute;width:1px;height:1px;margin:-1px;padding:0;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap;border:0}',
    ':focus-visible{outline:3px solid var(--ink);outline-offset:2px}',
    '.launcher{position:fixed;right:20px;bottom:20px;z-index:2147483000;width:60px;height:60px;border-radius:50%;border:0;background:var(--p);color:var(--pt);box-shadow:0 6px 20px rgba(0,0,0,.28);cursor:pointer;display:flex;align-items:center;justify-content:center;transition:transform .15s}',
    '.launcher:hover{transform:scale(1.06)}',
    '.left .launcher{right:auto;left:20px}',
    '.badge{position:absolute;top:-4px;right:-4px;min-width:22px;height:22px;padding:0 6px;border-radius:11px;background:#c62828;color:#fff;font-size:12px;font-weight:700;line-height:18px;text-align:center;border:2px solid #fff}',
    '.panel{position:fixed;right:20px;bottom:92px;z-index:2147483001;width:min(390px,calc(100vw - 40px));height:min(640px,calc(100vh - 112px));background:#fff;border-radius:16px;box-shadow:0 12px 48px rgba(0,0,0,.3);display:flex;flex-direction:column;overflow:hidden}',
    '.left .panel{right:auto;left:20px}',
    '@media (max-width:480px),(max-height:560px){.panel{top:0;left:0;right:0;bottom:0;width:auto;height:auto;border-radius:0}.open .launcher{display:none}}',
    '.hd{background:var(--p);color:var(--pt);padding:10px 8px 10px 16px;flex:none}',
    '.hd :focus-visible{outline-color:var(--pt)}',
    '.hrow{display:flex;align-items:center;gap:2px}',
    '.ttl{flex:1;min-width:0}',
    'h2{margin:0;font-size:17px;font-weight:650;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}',
    '.st{font-size:13px;display:flex;align-items:center;gap:6px;min-width:0}',
    '.st span{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}',
    '.dot{flex:none;width:9px;height:9px;border-radius:50%;background:#9aa3ad;box-shadow:0 0 0 2px rgba(255,255,255,.6)}',
    '.dot.on{background:#2fd17a}',
    '.dot.wait{background:#ffb300}',
    '.ib{flex:none;width:38px;height:38px;border:0;border-radius:10px;background:transparent;color:inherit;cursor:pointer;display:flex;align-items:center;justify-content:center}',
    '.ib:hover{background:rgba(127,127,127,.25)}',
    '.human{display:inline-flex;align-items:center;gap:6px;margin-top:8px;padding:5px 12px;border:1.5px solid currentColor;border-radius:999px;background:transparent;color:inherit;font-size:13.5px;font-weight:600;cursor:pointer}',
    '.human:hover{background:rgba(127,127,127,.25)}',
    '.banner{flex:none;padding:7px 14px;background:#fff3cd;color:#4d3800;font-size:13px;border-bottom:1px solid #f0d27a}',
    '.scroll{flex:1;min-height:0;overflow-y:auto;background:#f5f7fa;padding:14px 12px 6px;overscroll-behavior:contain}',
    '.log{display:flex;flex-direction:column;gap:10px}',
    '.msg{display:flex;flex-direction:column;align-items:flex-start;max-width:86%}',
    '.msg.customer{align-self:flex-end;align-items:flex-end}',
    '.msg.system{align-self:center;align-items:center;max-width:94%}',
    '.who{font-size:12px;font-weight:650;color:#4a5565;margin:0 6px 3px}',
    '.agent .who{color:#15603a}',
    '.bub{padding:9px 13px;border-radius:18px;background:#fff;border:1px solid #dde2e8;overflow-wrap:anywhere;max-width:100%}',
    '.bot .bub{border-bottom-left-radius:5px}',
    '.agent .bub{background:#e6f4ec;border-color:#a8d5bb;border-bottom-left-radius:5px}',
    '.customer .bub{background:var(--p);color:var(--pt);border-color:transparent;border-bottom-right-radius:5px}',
    '.system .bub{background:#fff6dc;border-color:#ecd07a;color:#45330a;font-size:13.5px;border-radius:10px;text-align:center}',
    '.bub p{margin:0}',
    '.bub p+p,.bub p+ul,.bub ul+p{margin-top:6px}',
    '.bub ul{margin:0;padding-left:20px}',
    '.bub a{color:var(--ink);text-decoration:underline;text-underline-offset:2px}',
    '.customer .bub a,.system .bub a{color:inherit}',
    '.meta{font-size:11.5px;color:#596372;margin:3px 6px 0}',
    '.pending .bub{opacity:.72}',
    '.failed .bub{border:2px solid #c62828}',
    '.failed .state{color:#b71c1c}',
    '.chips{display:flex;flex-wrap:wrap;gap:6px;margin-top:8px}',
    '.chip{padding:7px 14px;border:1.5px solid var(--ink);border-radius:999px;background:#fff;color:var(--ink);font-size:14px;font-weight:600;cursor:pointer;text-align:left}',
    '.chip:hover:not(:disabled){background:var(--ink);color:#fff}',
    '.chip:disabled{cursor:default;border-color:#cdd3db;background:#eef1f4;color:#596372}',
    '.chip.sel:disabled{border-color:var(--ink);background:var(--ink);color:#fff}',
    '.divider{display:flex;align-items:center;gap:8px;font-size:12px;color:#596372;margin:4px 0}',
    '.divider:before,.divider:after{content:"";flex:1;border-top:1px solid #cdd3db}',
    '.typing{margin-top:10px}',
    '.typing .bub{display:flex;gap:4px;padding:13px 14px}',
    '.typing i{width:7px;height:7px;border-radius:50%;background:#6b7585;animation:nwb 1.2s infinite}',
    '.typing i:nth-child(2){animation-delay:.15s}',
    '.typing i:nth-child(3){animation-delay:.3s}',
    '@keyframes nwb{0%,60%,100%{transform:none;opacity:.5}30%{transform:translateY(-4px);opacity:1}}',
    '@media (prefers-reduced-motion:reduce){.typing i{animation:none}.launcher{transition:none}}',
    '.end{margin:14px 0 8px;padding:14px;background:#fff;border:1px solid #dde2e8;border-radius:14px}',
    'fieldset{border:0;margin:0;padding:0}',
    'legend{font-weight:650;padding:0;margin-bottom:4px}',
    '.stars{display:flex;gap:2px}',
    '.star{position:relative;cursor:pointer;font-size:30px;line-height:1;color:#8a94a3;padding:2px}',
    '.star input{position:absolute;opacity:0;width:1px;height:1px}',
    '.star input:focus-visible+.glyph{outline:3px solid var(--ink);outline-offset:1px;border-radius:4px}',
    '.star.on,.star:hover{color:#b35c00}',
    '.cl{display:block;margin-top:8px;font-size:13.5px;color:#3d4654}',
    '.cl textarea{display:block;width:100%;margin-top:4px;padding:8px 10px;border:1px solid #8a94a3;border-radius:10px;resize:vertical;background:#fff}',
    '.primary{margin-top:10px;padding:8px 16px;border:0;border-radius:999px;background:var(--p);color:var(--pt);font-weight:600;cursor:pointer}',
    '.primary:disabled{opacity:.55;cursor:default}',
    '.thanks{margin:0;font-weight:600}',
    '.row{display:flex;flex-wrap:wrap;gap:4px 16px;margin-top:10px}',
    '.link{padding:4px 0;border:0;background:none;color:var(--ink);text-decoration:underline;cursor:pointer;font-size:14px}',
    '.comp{flex:none;display:flex;align-items:flex-end;gap:8px;padding:10px;border-top:1px solid #dde2e8;background:#fff}',
    '.comp textarea{flex:1;min-width:0;min-height:42px;max-height:120px;padding:10px 14px;border:1px solid #8a94a3;border-radius:21px;resize:none;background:#fff;color:#1d2430;line-height:1.35}',
    '.comp textarea::placeholder{color:#667080}',
    '.send{flex:none;width:42px;height:42px;border:0;border-radius:50%;background:var(--p);color:var(--pt);cursor:pointer;display:flex;align-items:center;justify-content:center}'
  ].join('');
  try {
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    root.adoptedStyleSheets = [sheet];
  } catch (e) { root.appendChild(h('style', null, CSS)); }

  var wrap = h('div', 'root' + (ds.position === 'bottom-left' ? ' left' : ''));
  wrap.setAttribute('lang', lang);
  root.appendChild(wrap);

  var launcher = attr(h('button', 'launcher'), { type: 'button', 'aria-label': t.open, 'aria-expanded': 'false', 'aria-controls': 'nw-panel' });
  var chatIcon = icon('chat', 28), closeIcon = icon('close', 28);
  closeIcon.style.display = 'none';
  launcher.appendChild(chatIcon);
  launcher.appendChild(closeIcon);
  var badge = attr(h('span', 'badge'), { 'aria-hidden': 'true' });
  badge.hidden = true;
  launcher.appendChild(badge);

  var panel = attr(h('div', 'panel'), { id: 'nw-panel', role: 'dialog', 'aria-labelledby': 'nw-title' });
  panel.hidden = true;

  var header = h('div', 'hd');
  var hrow = h('div', 'hrow');
  var ttl = h('div', 'ttl');
  ttl.appendChild(attr(h('h2', null, title), { id: 'nw-title' }));
  var status = h('div', 'st');
  var dot = h('span', 'dot');
  var statusText = h('span', null, t.sConnecting);
  status.appendChild(dot);
  status.appendChild(statusText);
  ttl.appendChild(status);
  var dlBtn = iconButton('download', t.download);
  var endBtn = iconButton('end', t.end);
  var closeBtn = iconButton('close', t.close);
  hrow.appendChild(ttl);
  hrow.appendChild(dlBtn);
  hrow.appendChild(endBtn);
  hrow.appendChild(closeBtn);
  header.appendChild(hrow);
  var humanBtn = attr(h('button', 'human'), { type: 'button' });
  humanBtn.appendChild(icon('human', 16));
  humanBtn.appendChild(h('span', null, t.human));
  header.appendChild(humanBtn);

  var banner = attr(h('div', 'banner', t.banner), { role: 'status' });
  banner.hidden = true;

  var scroller = attr(h('div', 'scroll'), { tabindex: '0', role: 'region', 'aria-label': t.conversation });
  var log = h('div', 'log');
  var typingEl = h('div', 'msg typing');
  typingEl.hidden = true;
  var typingWho = h('span', 'sr');
  var typingBub = h('div', 'bub');
  typingBub.appendChild(h('i'));
  typingBub.appendChild(h('i'));
  typingBub.appendChild(h('i'));
  typingEl.appendChild(typingWho);
  typingEl.appendChild(typingBub);
  var endCard = h('div', 'end');
  endCard.hidden = true;
  scroller.appendChild(log);
  scroller.appendChild(typingEl);
  scroller.appendChild(endCard);

  var live = attr(h('div', 'sr'), { 'aria-live': 'polite', 'aria-atomic': 'false' });

  var form = h('form', 'comp');
  var input = attr(h('textarea'), { rows: '1', maxlength: String(MAX), placeholder: t.placeholder, 'aria-label': t.message, enterkeyhint: 'send' });
  var sendBtn = iconButton('send', t.send, 'send');
  sendBtn.type = 'submit';
  form.appendChild(input);
  form.appendChild(sendBtn);

  panel.appendChild(header);
  panel.appendChild(banner);
  panel.appendChild(scroller);
  panel.appendChild(form);
  wrap.appendChild(live);
  wrap.appendChild(panel);
  wrap.appendChild(launcher);

  // ---- state ----
  var token = sget('token', null);
  var outbox = sget('outbox', []);
  if (!Array.isArray(outbox)) outbox = [];
  var pendingRating = sget('rating', null);
  var ws = null, ready = false, attempt = 0, retryTimer = null, pingTimer = null, pongTimer = null;
  var conn = 'connecting', owner = null, agentName = null, lastId = null, seen = {}, byCid = {};
  var unread = 0, isOpen = false, started = false, typingTimer = null;

  // ---- rendering ----
  function nearBottom() { return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 120; }
  function toBottom() { scroller.scrollTop = scroller.scrollHeight; }
  // Confirmed messages go above the queued (unsent) ones, which stay at the end.
  function place(el) {
    var first = !el.classList.contains('pending') && log.querySelector('.pending');
    if (first && first !== el) log.insertBefore(el, first); else log.appendChild(el);
  }
  function nameOf(m) {
    return m.sender === 'agent' ? (m.agent_name || t.agent) : m.sender === 'customer' ? t.you
      : m.sender === 'system' ? t.system : t.bot;
  }
  function render(m, opts) {
    opts = opts || {};
    var sender = /^(customer|bot|agent|system)$/.test(m.sender) ? m.sender : 'bot';
    var stick = nearBottom() || sender === 'customer';
    var r = { id: m.id, sender: sender, name: nameOf({ sender: sender, agent_name: m.agent_name }), text: String(m.text == null ? '' : m.text), at: opts.noTime ? null : time(m.created_at) };
    var el = attr(h('div', 'msg ' + sender), { 'data-sender': sender });
    if (m.id != null) el.setAttribute('data-id', m.id);
    el._r = r;
    r.el = el;
    el.appendChild(h('div', sender === 'bot' || sender === 'agent' ? 'who' : 'sr', r.name + (sender === 'bot' || sender === 'agent' ? '' : ':')));
    var bub = h('div', 'bub');
    format(r.text, bub);
    el.appendChild(bub);
    var meta = h('div', 'meta');
    if (r.at) {
      var tm = attr(h('time', null, hhmm(r.at)), { datetime: r.at.toISOString(), title: r.at.toLocaleString(lang) });
      meta.appendChild(tm);
    }
    r.state = h('span', 'state');
    meta.appendChild(r.state);
    el.appendChild(meta);
    if (Array.isArray(m.buttons) && m.buttons.length && sender !== 'customer') {
      var chips = attr(h('div', 'chips'), { role: 'group', 'aria-label': t.replies });
      m.buttons.forEach(function (b) {
        if (!b || b.title == null) return;
        var c = attr(h('button', 'chip', String(b.title)), { type: 'button' });
        c.addEventListener('click', function () {
          if (c.disabled) return;
          disableChips(c);
          send(String(b.title), b.payload);
          input.focus();
        });
        chips.appendChild(c);
      });
      el.appendChild(chips);
    }
    if (opts.pending) el.classList.add('pending');
    place(el);
    if (stick) toBottom();
    return r;
  }
  function setState(r, s, detail) {
    r.el.classList.toggle('pending', s === 'sending' || s === 'waiting');
    r.el.classList.toggle('failed', s === 'failed');
    r.state.textContent = s === 'sent' ? '' : ' · ' + (t[s] || s) + (detail ? ': ' + detail : '');
    if (s === 'sent') {
      r.state.appendChild(attr(h('span', null, ' ✓'), { 'aria-hidden': 'true' }));
      r.state.appendChild(h('span', 'sr', t.sent));
    }
  }
  function disableChips(chosen) {
    log.querySelectorAll('.chip').forEach(function (c) { c.disabled = true; });
    if (chosen) { chosen.classList.add('sel'); chosen.setAttribute('aria-pressed', 'true'); }
  }
  function announce(r) {
    var n = h('div', null, r.name + ': ' + r.text);
    live.appendChild(n);
    while (live.childNodes.length > 3) live.removeChild(live.firstChild);
  }
  function divider(text) {
    if (!log.querySelector('.msg')) return;
    place(attr(h('div', 'divider', text), { role: 'separator' }));
  }
  function showTyping(sender) {
    typingWho.textContent = (sender === 'agent' ? agentName || t.agent : t.bot) + t.typing;
    var stick = nearBottom();
    typingEl.hidden = false;
    typingEl.setAttribute('data-sender', sender);
    if (stick) toBottom();
    clearTimeout(typingTimer);
    typingTimer = setTimeout(hideTyping, 30000);
  }
  // Hides the indicator; with a sender, only if it shows that sender (the assistant's
  // end of turn must not hide an agent who is typing, and the other way round).
  function hideTyping(sender) {
    if (sender && !typingEl.hidden && typingEl.getAttribute('data-sender') !== sender) return;
    typingEl.hidden = true;
    clearTimeout(typingTimer);
  }
  function setUnread(n) {
    unread = n;
    badge.hidden = !n;
    badge.textContent = n > 9 ? '9+' : String(n);
    launcher.setAttribute('aria-label', isOpen ? t.close : t.open + (n ? ' (' + n + ' ' + t.unread[n > 1 ? 1 : 0] + ')' : ''));
    chatIcon.style.display = isOpen ? 'none' : '';
    closeIcon.style.display = isOpen ? '' : 'none';
  }
  function updateStatus() {
    var s, cls;
    if (conn !== 'online') { s = conn === 'reconnecting' ? t.sReconnecting : t.sConnecting; cls = 'off'; }
    else if (owner === 'queued') { s = t.sQueued; cls = 'wait'; }
    else if (owner === 'agent') { s = t.sAgent + (agentName || t.agent); cls = 'on'; }
    else if (owner === 'closed') { s = t.sClosed; cls = 'off'; }
    else { s = t.sOnline; cls = 'on'; }
    statusText.textContent = s;
    dot.className = 'dot ' + cls;
    banner.hidden = conn !== 'reconnecting';
    panel.setAttribute('data-conn', conn);
  }
  function setConn(c) { conn = c; updateStatus(); }
  function setOwner(o) {
    if (!o) return;
    var was = owner;
    owner = o;
    // Nothing to ask for while a person has the chat, or is about to.
    humanBtn.hidden = o === 'agent' || o === 'queued';
    updateStatus();
    if (o === 'closed' && was !== 'closed') showEnd();
  }

  // ---- outbox: every customer message is kept until the server acknowledges it ----
  function saveOutbox() { sset('outbox', outbox.length ? outbox : null); }
  function dropFromOutbox(cid) {
    outbox = outbox.filter(function (x) { return x.client_id !== cid; });
    saveOutbox();
  }
  function showOutgoing(item) {
    var r = render({ sender: 'customer', text: item.text, created_at: item.ts }, { pending: true });
    r.cid = item.client_id;
    r.el.setAttribute('data-client-id', item.client_id);
    byCid[item.client_id] = r;
    setState(r, ready ? 'sending' : 'waiting');
    return r;
  }
  function transmit(item) {
    var r = byCid[item.client_id];
    if (r) setState(r, 'sending');
    raw({ type: 'message', client_id: item.client_id, text: item.text, payload: item.payload || undefined });
  }
  function flush() { outbox.forEach(transmit); }
  function send(text, payload) {
    text = String(text).trim().slice(0, MAX);
    if (!text) return;
    var item = { client_id: newId(), text: text, ts: new Date().toISOString() };
    if (payload) item.payload = String(payload);
    outbox.push(item);
    saveOutbox();
    disableChips();
    if (owner !== 'closed') endCard.hidden = true;
    showOutgoing(item);
    if (ready) transmit(item); else start();
  }
  function confirm(cid, id) {
    dropFromOutbox(cid);
    var r = byCid[cid];
    if (!r) return;
    delete byCid[cid];
    if (id != null) { r.id = id; seen[id] = 1; r.el.setAttribute('data-id', id); }
    setState(r, 'sent');
    place(r.el);
  }

  // ---- connection ----
  function raw(f) {
    if (ws && ws.readyState === 1) { try { ws.send(JSON.stringify(f)); return true; } catch (e) { /* closing */ } }
    return false;
  }
  function hello() {
    var f = { type: 'hello', session_token: token || null, language: lang };
    if (lastId != null) f.after_id = lastId;
    raw(f);
  }
  function start() {
    if (started) return;
    started = true;
    connect();
  }
  function connect() {
    if (ws) return;
    clearTimeout(retryTimer);
    retryTimer = null;
    setConn(attempt ? 'reconnecting' : 'connecting');
    var s;
    try { s = new WebSocket(wsUrl); } catch (e) { schedule(); return; }
    ws = s;
    ready = false;
    s.onopen = function () { hello(); keepAlive(); };
    s.onmessage = function (e) {
      clearTimeout(pongTimer);
      var f;
      try { f = JSON.parse(e.data); } catch (x) { return; }
      if (f && typeof f === 'object') handle(f);
    };
    s.onclose = function () { if (ws === s) lost(); };
  }
  function lost() {
    var s = ws;
    ws = null;
    ready = false;
    clearInterval(pingTimer);
    clearTimeout(pongTimer);
    hideTyping();
    botTurn = false;
    if (ratingAfterTurn) { ratingAfterTurn = false; offerRating(); }
    if (s) { s.onclose = s.onmessage = s.onopen = null; try { s.close(); } catch (e) { /* already closed */ } }
    Object.keys(byCid).forEach(function (k) { setState(byCid[k], 'waiting'); });
    schedule();
  }
  // Exponential backoff with jitter, capped at 30 s.
  function schedule(now) {
    setConn('reconnecting');
    if (retryTimer && !now) return;
    clearTimeout(retryTimer);
    var base = Math.min(30000, 500 * Math.pow(2, attempt++));
    retryTimer = setTimeout(function () { retryTimer = null; connect(); }, now ? 0 : base / 2 + Math.random() * base / 2);
  }
  function keepAlive() {
    clearInterval(pingTimer);
    pingTimer = setInterval(function () {
      if (!raw({ type: 'ping' })) return;
      clearTimeout(pongTimer);
      pongTimer = setTimeout(lost, 10000);
    }, 25000);
  }
  function newConversation() {
    token = null;
    sset('token', null);
    lastId = null;
    owner = null;
    endCard.hidden = true;
    divider(t.newConv);
  }

  function handle(f) {
    switch (f.type) {
      case 'welcome':
        if (f.session_token) { token = f.session_token; sset('token', token); }
        ready = true;
        attempt = 0;
        conn = 'online';
        setOwner(f.owner || 'bot');
        (Array.isArray(f.history) ? f.history : []).forEach(function (m) { incoming(m, false); });
        flush();
        if (pendingRating) sendRating(pendingRating);
        break;
      case 'message': incoming(f, true); break;
      case 'ack': if (f.client_id) confirm(f.client_id, f.id); break;
      case 'typing':
        if (f.agent_name) agentName = f.agent_name;
        if (f.sender !== 'agent') botTurn = f.active !== false;
        if (f.active === false) hideTyping(f.sender === 'agent' ? 'agent' : 'bot');
        else showTyping(f.sender === 'agent' ? 'agent' : 'bot');
        if (!botTurn && ratingAfterTurn) { ratingAfterTurn = false; offerRating(); }
        break;
      case 'owner':
        if (f.agent_name) agentName = f.agent_name;
        setOwner(f.owner);
        break;
      case 'rating_request':
        // After the assistant solved the problem the request comes during its turn:
        // the card follows the turn's last reply.
        if (botTurn) ratingAfterTurn = true; else offerRating();
        break;
      case 'rating_saved':
        ratingSent = false;
        pendingRating = null;
        sset('rating', null);
        break;
      case 'error': onError(f); break;
    }
  }
  function incoming(m, isLive) {
    if (m.id != null) {
      if (seen[m.id]) return;
      seen[m.id] = 1;
      if (lastId == null || m.id > lastId) lastId = m.id;
    }
    if (m.sender === 'customer') {
      disableChips();
      if (m.client_id && byCid[m.client_id]) { confirm(m.client_id, m.id); return; }
    } else hideTyping(m.sender === 'agent' ? 'agent' : 'bot');
    if (m.sender === 'agent') {
      if (m.agent_name) agentName = m.agent_name;
      if (owner !== 'closed') setOwner('agent');
    }
    var r = render(m);
    if (m.sender === 'customer') setState(r, 'sent');
    else if (isLive) {
      announce(r);
      if (!isOpen) setUnread(unread + 1);
    }
  }
  function onError(f) {
    var c = f.code, r = f.client_id && byCid[f.client_id];
    if (ratingSent && !f.client_id && (c === 'unknown_type' || c === 'invalid_message')) {
      // The server cannot take this rating; do not resend it forever.
      ratingSent = false;
      pendingRating = null;
      sset('rating', null);
      return;
    }
    if (c === 'invalid_session') {
      // The stored token is no longer valid: start afresh on this socket.
      newConversation();
      hello();
    } else if (c === 'conversation_closed' || c === 'hello_required') {
      // A closed conversation takes no messages: open a new one and resend the queue there.
      if (c === 'conversation_closed') newConversation();
      attempt = 0;
      if (ws) { var s = ws; ws = null; ready = false; s.onclose = null; try { s.close(); } catch (e) { /* closed */ } }
      schedule(true);
    } else if (r && c === 'rate_limited') {
      setState(r, 'waiting');
      var cid = f.client_id;
      setTimeout(function () {
        var item = outbox.filter(function (x) { return x.client_id === cid; })[0];
        if (item && ready) transmit(item);
      }, 15000);
    } else if (r) {
      dropFromOutbox(f.client_id);
      delete byCid[f.client_id];
      setState(r, 'failed', t.errors[c] || f.detail || c);
    }
  }

  // ---- end of chat: rating and transcript ----
  // Kept until the server answers rating_saved, so a rating given offline is not lost.
  function sendRating(rt) {
    pendingRating = rt;
    sset('rating', rt);
    ratingSent = ready && raw({ type: 'rating', score: rt.score, comment: rt.comment });
  }
  var rated = false, ratingSent = false, botTurn = false, ratingAfterTurn = false;
  function offerRating() { if (endCard.hidden && !rated) showEnd(); }
  function showEnd() {
    endCard.textContent = '';
    endCard.hidden = false;
    var f = h('form', 'rate');
    if (!rated) {
      var fs = h('fieldset');
      fs.appendChild(h('legend', null, t.rateQ));
      var stars = h('div', 'stars'), labels = [];
      for (var i = 1; i <= 5; i++) {
        var lb = h('label', 'star'), rb = attr(h('input'), { type: 'radio', name: 'score', value: i });
        lb.appendChild(rb);
        lb.appendChild(attr(h('span', 'glyph', '★'), { 'aria-hidden': 'true' }));
        lb.appendChild(h('span', 'sr', i + t.of + ' – ' + t.rates[i - 1]));
        lb.title = t.rates[i - 1];
        labels.push(lb);
        stars.appendChild(lb);
      }
      stars.addEventListener('change', function () {
        var v = +(f.querySelector('input:checked') || {}).value || 0;
        labels.forEach(function (l, j) { l.classList.toggle('on', j < v); });
        submit.disabled = !v;
      });
      fs.appendChild(stars);
      f.appendChild(fs);
      var cl = h('label', 'cl', t.comment);
      var ta = attr(h('textarea'), { rows: '2', maxlength: '2000' });
      cl.appendChild(ta);
      f.appendChild(cl);
      var submit = attr(h('button', 'primary', t.submit), { type: 'submit' });
      submit.disabled = true;
      f.appendChild(submit);
      f.addEventListener('submit', function (e) {
        e.preventDefault();
        var v = +(f.querySelector('input:checked') || {}).value;
        if (!(v >= 1 && v <= 5)) return;
        rated = true;
        sendRating({ score: v, comment: ta.value.trim().slice(0, 2000) });
        showEnd();
        var th = endCard.querySelector('.thanks');
        if (th) th.focus();
      });
    } else {
      f.appendChild(attr(h('p', 'thanks', t.thanks), { tabindex: '-1', role: 'status' }));
    }
    var row = h('div', 'row');
    var dl = attr(h('button', 'link', t.download), { type: 'button' });
    dl.addEventListener('click', download);
    var nc = attr(h('button', 'link', t.newChat), { type: 'button' });
    nc.addEventListener('click', function () {
      rated = false;
      newConversation();
      attempt = 0;
      if (ws) { var s = ws; ws = null; ready = false; s.onclose = null; try { s.close(); } catch (e) { /* closed */ } }
      schedule(true);
      input.focus();
    });
    if (owner !== 'closed' && !rated) {
      var back = attr(h('button', 'link', t.back), { type: 'button' });
      back.addEventListener('click', function () { endCard.hidden = true; input.focus(); });
      row.appendChild(back);
    }
    row.appendChild(dl);
    row.appendChild(nc);
    f.appendChild(row);
    endCard.appendChild(f);
    toBottom();
  }
  function download() {
    var lines = [title + ' – ' + t.transcript, new Date().toLocaleString(lang), ''];
    log.querySelectorAll('.msg, .divider').forEach(function (el) {
      var r = el._r;
      if (!r) { lines.push('— ' + el.textContent + ' —'); return; }
      var when = r.at ? '[' + r.at.toLocaleString(lang) + '] ' : '';
      var note = el.classList.contains('pending') || el.classList.contains('failed') ? ' (' + t.failed + ')' : '';
      lines.push(when + r.name + ': ' + r.text.replace(/\r?\n/g, '\n    ') + note);
    });
    var url = URL.createObjectURL(new Blob([lines.join('\r\n') + '\r\n'], { type: 'text/plain;charset=utf-8' }));
    var a = attr(h('a'), { href: url, download: 'chat-transcript-' + new Date().toISOString().slice(0, 10) + '.txt' });
    wrap.appendChild(a);
    a.click();
    a.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 5000);
  }

  // ---- open / close and input ----
  function openPanel() {
    isOpen = true;
    panel.hidden = false;
    launcher.setAttribute('aria-expanded', 'true');
    wrap.classList.add('open');
    setUnread(0);
    sset('open', true, true);
    start();
    toBottom();
    input.focus();
  }
  function closePanel() {
    isOpen = false;
    panel.hidden = true;
    launcher.setAttribute('aria-expanded', 'false');
    wrap.classList.remove('open');
    sset('open', null, true);
    setUnread(0);
    launcher.focus();
  }
  launcher.addEventListener('click', function () { if (isOpen) closePanel(); else openPanel(); });
  closeBtn.addEventListener('click', closePanel);
  wrap.addEventListener('keydown', function (e) { if (e.key === 'Escape' && isOpen) { e.preventDefault(); closePanel(); } });
  humanBtn.addEventListener('click', function () { send(t.humanText, '/request_human'); input.focus(); });
  dlBtn.addEventListener('click', download);
  endBtn.addEventListener('click', function () {
    showEnd();
    var first = endCard.querySelector('input,button');
    if (first) first.focus();
  });
  function grow() {
    input.style.height = 'auto';
    input.style.height = Math.min(input.scrollHeight + 2, 120) + 'px';
  }
  // Tell the agent who has the chat that the customer is typing (at most every 3 s).
  var typingSentAt = 0, typingIdle = null;
  function typingSignal() {
    if (owner !== 'agent' || !ready) return;
    if (Date.now() - typingSentAt > 3000 && raw({ type: 'typing', active: true })) typingSentAt = Date.now();
    clearTimeout(typingIdle);
    typingIdle = setTimeout(typingStopped, 4000);
  }
  function typingStopped() {
    clearTimeout(typingIdle);
    if (typingSentAt) { typingSentAt = 0; raw({ type: 'typing', active: false }); }
  }
  input.addEventListener('input', function () { grow(); if (input.value) typingSignal(); else typingStopped(); });
  input.addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit ? form.requestSubmit() : submitInput(); }
  });
  function submitInput() {
    var v = input.value;
    if (!v.trim()) return;
    input.value = '';
    grow();
    typingStopped();
    send(v);
  }
  form.addEventListener('submit', function (e) { e.preventDefault(); submitInput(); input.focus(); });
  window.addEventListener('online', function () { if (started && !ws) { attempt = 0; schedule(true); } });
  d.addEventListener('visibilitychange', function () {
    if (d.visibilityState === 'visible' && started && !ws && retryTimer) schedule(true);
  });

  // ---- boot ----
  if (greeting) render({ sender: 'bot', text: greeting }, { noTime: true });
  outbox.forEach(showOutgoing);
  updateStatus();
  function mount() {
    d.body.appendChild(host);
    // Reconnect right away for a returning customer, so history and agent replies arrive.
    if (token || outbox.length || pendingRating) start();
    if (sget('open', false, true) || ds.open === 'true') openPanel();
  }
  if (d.body) mount(); else d.addEventListener('DOMContentLoaded', mount);
})();
