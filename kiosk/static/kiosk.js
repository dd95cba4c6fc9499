/* anjungan kiosk: clock, serta-merta banner polling, idle reset, and small form helpers.
   Plain JavaScript, no libraries, no requests to any other host. */
(function () {
  "use strict";
  var body = document.body;

  /* clock */
  var clock = document.getElementById("clock");
  function two(n) { return (n < 10 ? "0" : "") + n; }
  function tick() { var d = new Date(); if (clock) { clock.textContent = two(d.getHours()) + ":" + two(d.getMinutes()); } }
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
