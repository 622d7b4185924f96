/* Kenner's browser tag: the analytics.js API, served first-party by Kenner. It sends to the
   host it was loaded from and to nowhere else (only the tags the marketer adds load other
   scripts, each once the visitor consented to its purpose). */
(function (w, d) {
  "use strict";
  var cfg = /*@config*/ null;
  var script = d.currentScript;
  var key = (script && script.getAttribute("data-global-segment-analytics-key")) || "analytics";
  var stub = w[key];
  if (stub && stub.initialized) return;
  var host = script ? new URL(script.src, location.href).origin : location.origin;
  var set = cfg.settings || {};
  var LIB = { name: "kenner.js", version: cfg.version };
  var QKEY = "kenner_queue", CKEY = "kenner_consent";
  var purpose = set.consent_purpose || "analytics";

  function uuid() {
    if (w.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  // Storage: cookies for ids (the server refreshes ajs_anonymous_id), localStorage as a copy.
  var store = {
    get: function (k) { try { return w.localStorage.getItem(k); } catch (e) { return null; } },
    set: function (k, v) { try { w.localStorage.setItem(k, v); } catch (e) {} },
    del: function (k) { try { w.localStorage.removeItem(k); } catch (e) {} }
  };
  function readCookie(name) {
    var m = d.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    if (!m) return null;
    var v = decodeURIComponent(m[1]);
    try { var j = JSON.parse(v); if (typeof j === "string") return j; } catch (e) {}
    return v;
  }
  // domains lists where a cookie may be written: the widest that takes it is the site's.
  function domains() {
    var parts = location.hostname.split("."), out = [];
    for (var i = parts.length - 2; i >= 0; i--) out.push(parts.slice(i).join("."));
    return out;
  }
  function writeCookie(name, value) {
    var base = name + "=" + encodeURIComponent(value) + "; path=/; max-age=31536000; SameSite=Lax" + (location.protocol === "https:" ? "; Secure" : "");
    var ds = domains();
    for (var i = 0; i < ds.length; i++) {
      d.cookie = base + "; domain=" + ds[i];
      if (readCookie(name) === value) return;
    }
    d.cookie = base;
  }
  function deleteCookie(name) {
    var ds = domains().concat([""]);
    for (var i = 0; i < ds.length; i++) {
      d.cookie = name + "=; path=/; max-age=0" + (ds[i] ? "; domain=" + ds[i] : "");
    }
  }

  // Consent: with "required", nothing is stored or sent until the site reports consent to the
  // tag's purpose. The choice itself is kept (it is what the visitor asked for).
  var consent = null;
  try { consent = JSON.parse(store.get(CKEY) || "null"); } catch (e) {}
  if (w.kennerConsent && typeof w.kennerConsent === "object") consent = w.kennerConsent;
  var required = set.consent === "required";
  function allowed() { return required ? !!(consent && consent[purpose] === true) : !(consent && consent[purpose] === false); }
  function granted(p) { return required || (consent && p in consent) ? !!(consent && consent[p] === true) : true; }

  var user = { id: null, anon: null, traits: {} };
  function loadUser() {
    user.anon = readCookie("ajs_anonymous_id") || store.get("ajs_anonymous_id");
    user.id = readCookie("ajs_user_id") || store.get("ajs_user_id");
    try { user.traits = JSON.parse(store.get("ajs_user_traits") || "{}") || {}; } catch (e) { user.traits = {}; }
  }
  function saveUser() {
    if (!allowed()) return;
    if (!user.anon) user.anon = uuid();
    writeCookie("ajs_anonymous_id", user.anon);
    store.set("ajs_anonymous_id", user.anon);
    if (user.id) { writeCookie("ajs_user_id", user.id); store.set("ajs_user_id", user.id); }
    store.set("ajs_user_traits", JSON.stringify(user.traits));
  }
  function forget() {
    deleteCookie("ajs_anonymous_id"); deleteCookie("ajs_user_id");
    store.del("ajs_anonymous_id"); store.del("ajs_user_id"); store.del("ajs_user_traits"); store.del(QKEY);
    user = { id: null, anon: null, traits: {} };
  }
  loadUser();
  if (allowed()) saveUser();

  // Context of the page an event happened on (bpc: the page as the snippet saw it at the call).
  function pageContext(bpc) {
    var canon = d.querySelector("link[rel='canonical']");
    var c = bpc || { c: canon && canon.getAttribute("href"), p: location.pathname, u: location.href, s: location.search, t: d.title, r: d.referrer };
    var url = c.c ? c.c + (c.c.indexOf("?") < 0 ? c.s : "") : c.u.split("#")[0];
    return { path: c.p, referrer: c.r, search: c.s, title: c.t, url: url };
  }
  function campaign(search) {
    var q = new URLSearchParams(search || ""), out = {}, any = false;
    var names = { utm_source: "source", utm_medium: "medium", utm_campaign: "name", utm_term: "term", utm_content: "content" };
    q.forEach(function (v, k) {
      if (names[k]) { out[names[k]] = v; any = true; }
      else if (k.indexOf("utm_") === 0) { out[k.slice(4)] = v; any = true; }
    });
    return any ? out : null;
  }

  // Events are kept in localStorage until Kenner acknowledged them (messageId makes a resend
  // harmless), sent in batches, and handed to sendBeacon when the page goes away.
  var queue = [];
  try { queue = JSON.parse(store.get(QKEY) || "[]") || []; } catch (e) { queue = []; }
  var held = []; // before consent (required mode): in memory only
  var timer = null, inflight = 0, backoff = 1000;
  function persist() { if (allowed()) store.set(QKEY, JSON.stringify(queue.slice(-500))); }
  function schedule(ms) { if (!timer) timer = setTimeout(function () { timer = null; flush(); }, ms); }
  function body(batch) { return JSON.stringify({ batch: batch, writeKey: cfg.writeKey, sentAt: new Date().toISOString() }); }
  function flush() {
    if (!queue.length || inflight || !allowed()) return;
    var batch = queue.slice(0, 100), n = batch.length;
    inflight = n;
    fetch(host + "/v1/batch", { method: "POST", body: body(batch), credentials: "include", keepalive: n < 20, headers: { "Content-Type": "text/plain" } })
      .then(function (r) {
        inflight = 0;
        if (r.ok || (r.status >= 400 && r.status < 500 && r.status !== 429)) {
          queue.splice(0, n); persist(); backoff = 1000;
          if (queue.length) schedule(0);
        } else throw new Error("status " + r.status);
      })
      .catch(function () { inflight = 0; backoff = Math.min(backoff * 2, 60000); schedule(backoff); });
  }
  function beacon() {
    if (!queue.length || inflight || !allowed() || !navigator.sendBeacon) return;
    var rest = [];
    while (queue.length) {
      var batch = queue.splice(0, 20);
      if (!navigator.sendBeacon(host + "/v1/batch", new Blob([body(batch)], { type: "text/plain" }))) rest = rest.concat(batch);
    }
    queue = rest; persist();
  }
  d.addEventListener("visibilitychange", function () { if (d.visibilityState === "hidden") beacon(); });
  w.addEventListener("pagehide", beacon);
  w.addEventListener("online", function () { schedule(0); });

  var listeners = {}, middleware = [];
  function emit(ev, args) { (listeners[ev] || []).slice().forEach(function (f) { try { f.apply(null, args); } catch (e) {} }); }

  function enqueue(msg) {
    if (required && !allowed()) { if (!consent) held.push(msg); return; }
    if (!allowed()) return;
    finish(msg);
  }
  function finish(msg) {
    msg.anonymousId = user.anon || (saveUser(), user.anon);
    if (user.id) msg.userId = msg.userId || user.id;
    if (consent) msg.context.consent = { categoryPreferences: consent };
    var i = 0;
    (function next(m) {
      if (!m) return;
      if (i < middleware.length) { var f = middleware[i++]; try { f({ payload: { obj: m }, next: function (p) { next(p && p.obj ? p.obj : m); } }); } catch (e) { next(m); } return; }
      queue.push(m); persist(); schedule(queue.length >= 20 ? 0 : 200);
    })(msg);
  }

  // The calls' arguments, in analytics.js's flexible shapes.
  function isFn(x) { return typeof x === "function"; }
  function isObj(x) { return x && typeof x === "object" && !Array.isArray(x); }
  function message(type, fields, opts, bpc) {
    opts = isObj(opts) ? opts : {};
    var page = pageContext(bpc);
    var ctx = { page: page, userAgent: navigator.userAgent, library: LIB, locale: navigator.language };
    try { ctx.timezone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) {}
    ctx.screen = { width: screen.width, height: screen.height, density: w.devicePixelRatio };
    var camp = campaign(page.search);
    if (camp) ctx.campaign = camp;
    if (isObj(opts.context)) for (var k in opts.context) ctx[k] = opts.context[k];
    var m = { type: type, messageId: "kenner-" + uuid(), timestamp: (opts.timestamp ? new Date(opts.timestamp) : new Date()).toISOString(), context: ctx };
    if (opts.integrations) m.integrations = opts.integrations;
    if (opts.anonymousId) user.anon = opts.anonymousId;
    for (var f in fields) if (fields[f] !== undefined) m[f] = fields[f];
    return m;
  }
  // split peels the snippet's buffered page context and a trailing callback off args.
  function split(args) {
    args = Array.prototype.slice.call(args);
    var bpc = null, cb = null;
    if (args.length && isObj(args[args.length - 1]) && args[args.length - 1].__t === "bpc") bpc = args.pop();
    while (args.length && (args[args.length - 1] === undefined)) args.pop();
    if (args.length && isFn(args[args.length - 1])) cb = args.pop();
    return { a: args, bpc: bpc, cb: cb };
  }
  function done(cb, ev, args) { emit(ev, args); if (cb) setTimeout(cb, 0); return api; }

  var pageSeen = false;
  var api = {
    initialized: true, invoked: true, VERSION: cfg.version,
    track: function () {
      var s = split(arguments), a = s.a;
      var props = isObj(a[1]) ? a[1] : {};
      enqueue(message("track", { event: String(a[0]), properties: props }, a[2], s.bpc));
      return done(s.cb, "track", [a[0], props, a[2]]);
    },
    page: function () {
      var s = split(arguments), a = s.a, category = null, name = null, props = {}, opts;
      if (isObj(a[0])) { props = a[0]; opts = a[1]; }
      else if (isObj(a[1])) { name = a[0]; props = a[1]; opts = a[2]; }
      else if (a.length >= 2 && !isObj(a[1])) { category = a[0]; name = a[1]; if (isObj(a[2])) props = a[2]; opts = a[3]; }
      else { name = a[0] == null ? null : a[0]; }
      var pc = pageContext(s.bpc);
      var p = { path: pc.path, referrer: pc.referrer, search: pc.search, title: pc.title, url: pc.url };
      for (var k in props) p[k] = props[k];
      if (name) p.name = name;
      if (category) p.category = category;
      var f = { properties: p };
      if (name) f.name = name;
      if (category) f.category = category;
      pageSeen = true;
      enqueue(message("page", f, opts, s.bpc));
      return done(s.cb, "page", [category, name, p, opts]);
    },
    identify: function () {
      var s = split(arguments), a = s.a, id = null, traits = {}, opts;
      if (isObj(a[0])) { traits = a[0]; opts = a[1]; } else { id = a[0] == null ? null : String(a[0]); traits = isObj(a[1]) ? a[1] : {}; opts = a[2]; }
      if (id && user.id && id !== user.id) user.traits = {};
      if (id) user.id = id;
      for (var k in traits) user.traits[k] = traits[k];
      saveUser();
      enqueue(message("identify", { userId: user.id || undefined, traits: user.traits }, opts, s.bpc));
      if (slots().length) personalize();
      return done(s.cb, "identify", [user.id, traits, opts]);
    },
    group: function () {
      var s = split(arguments), a = s.a;
      enqueue(message("group", { groupId: String(a[0]), traits: isObj(a[1]) ? a[1] : {} }, a[2], s.bpc));
      return done(s.cb, "group", [a[0], a[1], a[2]]);
    },
    alias: function () {
      var s = split(arguments), a = s.a;
      var prev = a[1] && !isObj(a[1]) ? String(a[1]) : (user.id || user.anon);
      enqueue(message("alias", { userId: String(a[0]), previousId: prev }, isObj(a[1]) ? a[1] : a[2], s.bpc));
      return done(s.cb, "alias", [a[0], prev]);
    },
    screen: function () { return api.page.apply(api, arguments); },
    reset: function () {
      deleteCookie("ajs_user_id"); store.del("ajs_user_id"); store.del("ajs_user_traits");
      user = { id: null, anon: uuid(), traits: {} };
      saveUser();
      emit("reset", []);
      return api;
    },
    setAnonymousId: function (id) { if (id) { user.anon = String(id); saveUser(); } return user.anon; },
    user: function () {
      return {
        id: function () { return user.id; },
        anonymousId: function (id) { if (id !== undefined) api.setAnonymousId(id); return user.anon; },
        traits: function () { return user.traits; }
      };
    },
    ready: function (cb) { if (isFn(cb)) setTimeout(cb, 0); return api; },
    on: function (ev, f) { (listeners[ev] = listeners[ev] || []).push(f); return api; },
    once: function (ev, f) { var g = function () { api.off(ev, g); f.apply(null, arguments); }; return api.on(ev, g); },
    off: function (ev, f) { listeners[ev] = (listeners[ev] || []).filter(function (x) { return x !== f; }); return api; },
    addSourceMiddleware: function (f) { if (isFn(f)) middleware.push(f); return api; },
    addIntegrationMiddleware: function () { return api; },
    addDestinationMiddleware: function () { return api; },
    register: function () { return Promise.resolve(api); },
    debug: function () { return api; },
    load: function () { return api; },
    trackLink: function (els, ev, props) { return bind(els, "click", ev, props); },
    trackClick: function (els, ev, props) { return bind(els, "click", ev, props); },
    trackForm: function (els, ev, props) { return bind(els, "submit", ev, props); },
    trackSubmit: function (els, ev, props) { return bind(els, "submit", ev, props); },
    pageview: function (url) { return api.page({ path: url }); },
    // consent reports the visitor's choices ({analytics: true, marketing: false, ...}).
    consent: function (prefs) {
      if (!isObj(prefs)) return consent;
      var was = allowed();
      consent = {};
      for (var k in prefs) consent[k] = !!prefs[k];
      if (allowed()) {
        store.set(CKEY, JSON.stringify(consent));
        loadUser(); saveUser();
        var h = held; held = [];
        h.forEach(function (m) { finish(m); });
        if (!was) start();
      } else {
        held = []; queue = [];
        forget();
        store.set(CKEY, JSON.stringify(consent));
      }
      loadTags();
      emit("consent", [consent]);
      return consent;
    },
    personalize: function () { return personalize(); }
  };
  function bind(els, type, ev, props) {
    if (!els) return api;
    els = els.length !== undefined ? Array.prototype.slice.call(els) : [els];
    els.forEach(function (el) {
      el.addEventListener(type, function () {
        api.track(isFn(ev) ? ev(el) : ev, isFn(props) ? props(el) : props || {});
      });
    });
    return api;
  }

  // Automatic tracking, as the source's tag settings ask.
  function dataProps(el) {
    var p = {};
    for (var i = 0; i < el.attributes.length; i++) {
      var at = el.attributes[i];
      if (at.name.indexOf("data-track-") === 0) p[at.name.slice(11).replace(/-([a-z])/g, function (_, c) { return c.toUpperCase(); })] = at.value;
    }
    return p;
  }
  var SECRET = /pass|card|cc-|cvc|cvv|iban|ssn|secret|token|pin$/i;
  function formFields(form) {
    var out = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      var t = (el.type || "").toLowerCase(), n = el.name || el.id;
      if (!n || t === "password" || t === "hidden" || t === "file" || t === "submit" || t === "button") return;
      if (SECRET.test(n) || SECRET.test(el.getAttribute("autocomplete") || "")) return;
      if ((t === "checkbox" || t === "radio") && !el.checked) return;
      out[n] = el.value;
    });
    return out;
  }
  function autotrack() {
    if (set.clicks) d.addEventListener("click", function (e) {
      var el = e.target && e.target.closest && e.target.closest("[data-track]");
      if (el) api.track(el.getAttribute("data-track"), dataProps(el));
    }, true);
    if (set.outbound_links) d.addEventListener("click", function (e) {
      var a = e.target && e.target.closest && e.target.closest("a[href]");
      if (a && a.hostname && a.hostname !== location.hostname && /^https?:$/.test(a.protocol)) api.track("Outbound Link Clicked", { href: a.href, text: (a.textContent || "").trim().slice(0, 200) });
    }, true);
    if (set.forms) d.addEventListener("submit", function (e) {
      var f = e.target;
      if (f && f.tagName === "FORM") api.track("Form Submitted", { form_id: f.id || undefined, form_name: f.getAttribute("name") || undefined, action: f.getAttribute("action") || undefined, fields: formFields(f) });
    }, true);
    if (set.scroll_depth) {
      var marks = [25, 50, 75, 100], reached = {};
      w.addEventListener("scroll", function () {
        var h = d.documentElement, max = h.scrollHeight - h.clientHeight;
        var pct = max <= 0 ? 100 : Math.round((h.scrollTop || d.body.scrollTop) / max * 100);
        marks.forEach(function (m) { if (pct >= m && !reached[m]) { reached[m] = 1; api.track("Scroll Depth Reached", { percent: m, path: location.pathname }); } });
      }, { passive: true });
    }
    if (set.page_views) {
      var last = location.href;
      var nav = function () { if (location.href !== last) { last = location.href; api.page(); } };
      ["pushState", "replaceState"].forEach(function (fn) {
        var orig = history[fn];
        history[fn] = function () { var r = orig.apply(this, arguments); setTimeout(nav, 0); return r; };
      });
      w.addEventListener("popstate", nav);
    }
  }

  // Tag management: the marketer's other tags, each loaded once its purpose is consented to.
  var loaded = {};
  function loadTags() {
    (set.tags || []).forEach(function (t) {
      if (loaded[t.src] || !granted(t.purpose)) return;
      loaded[t.src] = 1;
      var s = d.createElement("script");
      s.async = true; s.src = t.src; s.setAttribute("data-kenner-tag", t.name || "");
      d.head.appendChild(s);
    });
  }

  // Personalization: fill data-kenner-slot elements with the decision for this visitor.
  function slots() { return Array.prototype.slice.call(d.querySelectorAll("[data-kenner-slot]")); }
  var shown = {};
  function personalize() {
    if (!allowed()) return Promise.resolve(null);
    var q = "writeKey=" + encodeURIComponent(cfg.writeKey) + "&anonymousId=" + encodeURIComponent(user.anon || "");
    if (user.id) q += "&userId=" + encodeURIComponent(user.id);
    return fetch(host + "/v1/personalize?" + q, { credentials: "omit" }).then(function (r) { return r.ok ? r.json() : null; }).then(function (ans) {
      if (!ans) return null;
      slots().forEach(function (el) {
        var name = el.getAttribute("data-kenner-slot"), dec = ans.decisions && ans.decisions[name];
        if (!dec) return;
        var c = dec.content;
        if (isObj(c) && typeof c.html === "string") el.innerHTML = c.html;
        else if (isObj(c) && typeof c.text === "string") el.textContent = c.text;
        else if (typeof c === "string") el.textContent = c;
        el.setAttribute("data-kenner-variant", dec.variant);
        el.dispatchEvent(new CustomEvent("kenner:decision", { bubbles: true, detail: dec }));
        var k = name + "/" + dec.variant + "/" + dec.control;
        if (!shown[k]) { shown[k] = 1; api.track("Personalization Shown", { slot: name, variant: dec.variant, control: !!dec.control }); }
      });
      emit("decision", [ans]);
      return ans;
    }).catch(function () { return null; });
  }

  var started = false;
  function start() {
    if (started || !allowed()) return;
    started = true;
    if (set.page_views && !pageSeen) api.page();
    if (slots().length) personalize();
    schedule(0);
  }

  // Take over from the snippet: replay its queue, then run.
  w[key] = api;
  var calls = Array.isArray(stub) ? stub.slice() : [];
  var readyCbs = [];
  calls.forEach(function (c) {
    var fn = c[0], args = c.slice(1);
    if (fn === "ready") { readyCbs.push(args[0]); return; }
    if (isFn(api[fn])) api[fn].apply(api, args);
  });
  autotrack();
  loadTags();
  start();
  readyCbs.forEach(function (cb) { if (isFn(cb)) setTimeout(cb, 0); });
})(window, document);
