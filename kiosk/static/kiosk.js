/* anjungan kiosk: clock, serta-merta banner polling, idle reset, and small form helpers.
   Plain JavaScript, no libraries, no requests to any other host. */
(function () {
  "use strict";
  var body = document.body;

  /* clock */
  var clock = document.getElementById("clock");
  function two(n) { return (n < 10 ? "0" : "") + n; }
  /* the kiosk's zone (the server says its offset), not the machine's */
  var offsetMin = clock ? parseInt(clock.getAttribute("data-utc-offset-min") || "0", 10) : 0;
  function tick() {
    var d = new Date(Date.now() + offsetMin * 60000);
    if (clock) { clock.textContent = two(d.getUTCHours()) + ":" + two(d.getUTCMinutes()); }
  }
  tick();
  setInterval(tick, 5000);

  /* the banner: fetched from the kiosk itself every few seconds */
  var alerts = document.getElementById("alerts");
  var pollMs = Math.max(2, parseInt(body.dataset.poll || "5", 10)) * 1000;
  function poll() {
    fetch(body.dataset.alerts, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html !== null && alerts && alerts.innerHTML.trim() !== html.trim()) { alerts.innerHTML = html; }
      })
      .catch(function () { /* the kiosk server restarts: try again next time */ });
  }
  setInterval(poll, pollMs);

  /* drafts: what a citizen types is kept in this tab's sessionStorage, per form, so that it survives a language
     switch, a failed save and a mis-tap; only the idle reset, "Batal" and a receipt (the form was saved) clear
     it. Leaving a form with content by any other link asks first. */
  var DRAFT = "anjungan.draft:";
  var drafts = {
    forms: function () { return Array.prototype.filter.call(document.forms, function (f) { return f.hasAttribute("data-draft"); }); },
    key: function (form) { return DRAFT + new URL(form.action, location.href).pathname; },
    fields: function (form) {
      return Array.prototype.filter.call(form.elements, function (el) {
        return el.name && el.name !== "csrf_token" && !/^(hidden|password|submit|button|file)$/.test(el.type);
      });
    },
    read: function (form) {
      var data = {};
      drafts.fields(form).forEach(function (el) {
        if (el.type === "radio") { if (el.checked) { data[el.name] = el.value; } }
        else if (el.type === "checkbox") { data[el.name + "=" + el.value] = el.checked; }
        else { data[el.name] = el.value; }
      });
      return data;
    },
    dirty: function (form) {
      return drafts.fields(form).some(function (el) {
        if (el.type === "radio" || el.type === "checkbox") { return el.checked !== el.defaultChecked; }
        if (el.tagName === "SELECT") { return Array.prototype.some.call(el.options, function (o) { return o.selected !== o.defaultSelected; }); }
        return el.value.trim() !== "" && el.value !== el.defaultValue;
      });
    },
    save: function (form) {
      try {
        if (drafts.dirty(form)) { sessionStorage.setItem(drafts.key(form), JSON.stringify(drafts.read(form))); }
        else { sessionStorage.removeItem(drafts.key(form)); }
      } catch (err) { /* storage full or off: the form itself still works */ }
    },
    restore: function (form) {
      var text = null;
      try { text = sessionStorage.getItem(drafts.key(form)); } catch (err) { return; }
      if (!text) { return; }
      var data = JSON.parse(text);
      drafts.fields(form).forEach(function (el) {
        if (el.type === "radio") {
          if (el.name in data && el.checked === el.defaultChecked) { el.checked = data[el.name] === el.value; }
        } else if (el.type === "checkbox") {
          var k = el.name + "=" + el.value;
          if (k in data && el.checked === el.defaultChecked) { el.checked = data[k]; }
        } else if (el.name in data && (el.value === el.defaultValue || el.value === "")) {
          el.value = data[el.name];
        }
      });
    },
    clear: function (form) { try { sessionStorage.removeItem(drafts.key(form)); } catch (err) { /* nothing kept */ } },
    clearAll: function () {
      try {
        Object.keys(sessionStorage).forEach(function (k) { if (k.indexOf(DRAFT) === 0) { sessionStorage.removeItem(k); } });
      } catch (err) { /* nothing kept */ }
    }
  };
  if (document.getElementById("receipt-number")) { drafts.clearAll(); } /* saved: nothing to keep */
  drafts.forms().forEach(function (form) {
    if (!document.querySelector(".form-errors")) { drafts.restore(form); } /* a re-shown form holds the answers */
    drafts.save(form);
    form.addEventListener("input", function () { drafts.save(form); });
    form.addEventListener("change", function () { drafts.save(form); });
    form.addEventListener("submit", function () { drafts.save(form); });
  });

  /* leaving a form with content: "Batal" (in the form's actions) clears it; the language switch keeps it;
     any other link asks first */
  var leave = document.getElementById("leave");
  var leaveTo = null;
  function dirtyForm() { return drafts.forms().filter(drafts.dirty)[0] || null; }
  document.addEventListener("click", function (e) {
    var link = e.target.closest && e.target.closest("a[href]");
    if (!link || e.defaultPrevented) { return; }
    var form = dirtyForm();
    if (!form || link.classList.contains("btn-lang") || link.hasAttribute("data-keep")) { return; }
    if (link.closest(".form-actions") && form.contains(link)) { drafts.clear(form); return; } /* Batal */
    if (!leave) { return; }
    e.preventDefault();
    leaveTo = link.href;
    if (window.anjunganKeyboard) { window.anjunganKeyboard.hide(); }
    leave.hidden = false;
    document.getElementById("leave-stay").focus();
  });
  if (leave) {
    document.getElementById("leave-stay").addEventListener("click", function () { leave.hidden = true; leaveTo = null; });
    document.getElementById("leave-go").addEventListener("click", function () {
      drafts.forms().forEach(drafts.clear);
      if (leaveTo) { location.href = leaveTo; }
    });
  }

  /* reading aloud: "Dengarkan" plays the page's text, spoken by the kiosk itself (espeak-ng, cached there);
     a second tap stops it. With "Bacakan isian" on (the mode-baca class on <html>), a form field is read
     (its label, hint and error) when it gets the focus. Only addresses the page was served with are played:
     the kiosk speaks its own texts, never one a page makes up. */
  var player = null;
  var listenBtn = document.getElementById("listen");
  function setListening(on) {
    if (!listenBtn) { return; }
    listenBtn.setAttribute("aria-pressed", on ? "true" : "false");
    listenBtn.classList.toggle("is-playing", on);
    var label = listenBtn.querySelector(".tool-label");
    if (label) { label.textContent = on ? listenBtn.dataset.labelStop : listenBtn.dataset.labelPlay; }
    var icon = listenBtn.querySelector(".tool-icon");
    if (icon) { icon.textContent = on ? "■" : "▶"; }
  }
  function stopReading() {
    if (player) { player.pause(); player.removeAttribute("src"); player = null; }
    setListening(false);
  }
  function play(src, fromButton) {
    stopReading();
    var audio = new Audio(src);
    player = audio;
    audio.addEventListener("ended", function () { if (player === audio) { stopReading(); } });
    audio.addEventListener("error", function () { if (player === audio) { stopReading(); } });
    if (fromButton) { setListening(true); }
    var started = audio.play();
    if (started && started.catch) { started.catch(function () { if (player === audio) { stopReading(); } }); }
  }
  if (listenBtn) {
    listenBtn.addEventListener("click", function () {
      if (listenBtn.getAttribute("aria-pressed") === "true") { stopReading(); }
      else { play(listenBtn.dataset.src, true); }
    });
  }
  document.addEventListener("focusin", function (e) {
    var t = e.target;
    if (!document.documentElement.classList.contains("mode-baca")) { return; }
    if (t && t.dataset && t.dataset.listen) { play(t.dataset.listen, false); }
  });
  window.anjunganReader = { stop: stopReading, playing: function () { return player; } };

  /* idle: warn, then clear the form and the session and go home */
  var idleMs = parseInt(body.dataset.idle || "90", 10) * 1000;
  var warnS = Math.max(1, parseInt(body.dataset.idleWarning || "30", 10));
  var dialog = document.getElementById("idle");
  var countEl = document.getElementById("idle-count");
  var last = Date.now();
  var warningUntil = 0;
  var finishing = false;
  /* on the home screen nothing is on show: start over silently (this also ends a forgotten operator login) */
  var atHome = body.classList.contains("page-home");

  function finish() {
    if (finishing) { return; }
    finishing = true;
    stopReading();
    drafts.clearAll();
    Array.prototype.forEach.call(document.forms, function (f) { f.reset(); });
    if (window.anjunganKeyboard) { window.anjunganKeyboard.hide(); }
    var form = document.createElement("form");
    form.method = "post";
    form.action = body.dataset.finish;
    body.appendChild(form);
    form.submit();
  }
  function activity() {
    last = Date.now();
    if (warningUntil) { warningUntil = 0; dialog.hidden = true; }
  }
  ["pointerdown", "keydown", "touchstart", "input", "scroll", "wheel"].forEach(function (type) {
    document.addEventListener(type, function (e) {
      if (warningUntil && e.target && e.target.id === "idle-finish") { return; }
      activity();
    }, { passive: true, capture: true });
  });
  document.getElementById("idle-continue").addEventListener("click", activity);
  document.getElementById("idle-finish").addEventListener("click", finish);
  setInterval(function () {
    if (finishing) { return; }
    var now = Date.now();
    if (player && !player.paused && !warningUntil) { last = now; } /* someone is listening: not idle */
    if (atHome && now - last >= idleMs) { finish(); return; }
    if (!warningUntil && now - last >= idleMs) {
      warningUntil = now + warnS * 1000;
      dialog.hidden = false;
      document.getElementById("idle-continue").focus();
    }
    if (warningUntil) {
      var left = Math.max(0, Math.ceil((warningUntil - now) / 1000));
      countEl.textContent = String(left);
      if (left <= 0) { finish(); }
    }
  }, 250);

  /* information request: the copy options only when a copy is wanted */
  function toggleCopy() {
    var copy = document.querySelector('input[name="cara_memperoleh"][value="salinan"]');
    if (!copy) { return; }
    Array.prototype.forEach.call(document.querySelectorAll(".if-copy"), function (el) { el.hidden = !copy.checked; });
  }
  /* complaint: no identity fields when anonymous */
  function toggleIdentity() {
    var anon = document.getElementById("anonim");
    var block = document.querySelector(".identity");
    if (anon && block) { block.hidden = anon.checked; }
  }
  document.addEventListener("change", function () { toggleCopy(); toggleIdentity(); });
  toggleCopy();
  toggleIdentity();

  /* one form, one submission: once a form is on its way, its submit buttons are disabled, so a second tap
     (or a tap while a slow answer is awaited) sends nothing; the server keeps one submission per form key
     anyway. A page shown again from the back-forward cache gets its buttons back. */
  function setSending(form, sending) {
    form.setAttribute("aria-busy", sending ? "true" : "false");
    Array.prototype.forEach.call(form.querySelectorAll('button[type="submit"], input[type="submit"]'),
      function (b) { b.disabled = sending; });
  }
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (e.defaultPrevented || !form || form.method !== "post") { return; }
    if (form.getAttribute("aria-busy") === "true") { e.preventDefault(); return; }
    setSending(form, true);
  });
  window.addEventListener("pageshow", function (e) {
    if (e.persisted) { Array.prototype.forEach.call(document.forms, function (f) { setSending(f, false); }); }
  });

  /* the first field with an error gets the focus */
  var bad = document.querySelector('[aria-invalid="true"]');
  if (bad) { bad.scrollIntoView({ block: "center" }); }
})();
