/* anjungan on-screen keyboard: plain JavaScript, served by the kiosk.
   Fields opt in with data-kb="text" | "numeric" | "date" | "email". Keys that type act on pointerdown and
   keep the focus in the field; keys that close the keyboard ("Selesai", enter in a one-line field) act on the
   click of the same tap, so that the click never lands on the page beneath once the keyboard is gone, and for
   600 ms after it closed every tap in the keyboard's place (a second tap of a double tap too) is swallowed. Nothing moves under the finger: a page with
   such fields keeps the keyboard's room at its bottom all the time, and a field is scrolled into view only
   after the tap that focused it has ended. The keyboard never sends anything anywhere. */
(function () {
  "use strict";
  var kb = document.getElementById("kb");
  if (!kb) { return; }
  var LAYOUTS = {
    text: [["1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "-"],
           ["q", "w", "e", "r", "t", "y", "u", "i", "o", "p", "⌫"],
           ["a", "s", "d", "f", "g", "h", "j", "k", "l", "/", "'"],
           ["⇧", "z", "x", "c", "v", "b", "n", "m", ",", ".", "?"],
           ["@", "␣", "⏎", "✓"]],
    numeric: [["1", "2", "3"], ["4", "5", "6"], ["7", "8", "9"], ["⌫", "0", "✓"]],
    date: [["1", "2", "3"], ["4", "5", "6"], ["7", "8", "9"], ["-", "0", "⌫"], ["✓"]]
  };
  LAYOUTS.email = LAYOUTS.text;
  var field = null;
  var shift = false;
  var layoutName = "";
  var shownAt = 0;
  var pointerDown = false;
  var closedRect = null;
  var closedAt = 0;
  var GHOST_MS = 600;
  if (document.querySelector("[data-kb]")) { document.body.classList.add("kb-page"); }

  function label(key) {
    if (key === "␣") { return kb.dataset.labelSpace || "spasi"; }
    if (key === "✓") { return kb.dataset.labelDone || "Selesai"; }
    if (key === "⇧") { return "⇧"; }
    return shift && key.length === 1 ? key.toUpperCase() : key;
  }
  function keyName(key) {
    return { "⌫": "backspace", "␣": "space", "⏎": "enter", "✓": "done", "⇧": "shift" }[key] || key;
  }
  function build(name) {
    layoutName = name;
    kb.innerHTML = "";
    kb.className = "kb kb-" + name + (shift ? " kb-shift-on" : "");
    LAYOUTS[name].forEach(function (row) {
      var div = document.createElement("div");
      div.className = "kb-row";
      row.forEach(function (key) {
        var b = document.createElement("button");
        b.type = "button";
        b.className = "kb-key";
        var n = keyName(key);
        if (n === "space") { b.className += " kb-space"; }
        if (n === "done") { b.className += " kb-done kb-wide"; }
        if (n === "backspace" || n === "enter" || n === "shift") { b.className += " kb-action"; }
        if (n === "shift") { b.className += " kb-shift"; }
        b.dataset.key = n;
        b.textContent = label(key);
        b.setAttribute("aria-label", n);
        div.appendChild(b);
      });
      kb.appendChild(div);
    });
  }
  function insert(text) {
    if (!field) { return; }
    var max = field.maxLength > 0 ? field.maxLength : Infinity;
    var start = field.selectionStart, end = field.selectionEnd;
    if (start === null || start === undefined) { start = end = field.value.length; }
    if (field.value.length - (end - start) + text.length > max) { return; }
    field.setRangeText(text, start, end, "end");
    field.dispatchEvent(new Event("input", { bubbles: true }));
  }
  function backspace() {
    if (!field) { return; }
    var start = field.selectionStart, end = field.selectionEnd;
    if (start === null || start === undefined) { start = end = field.value.length; }
    if (start === end && start > 0) { start -= 1; }
    field.setRangeText("", start, end, "end");
    field.dispatchEvent(new Event("input", { bubbles: true }));
  }
  function closes(name) {
    return name === "done" || (name === "enter" && !(field && field.tagName === "TEXTAREA"));
  }
  function press(name) {
    if (name === "backspace") { backspace(); }
    else if (name === "space") { insert(" "); }
    else if (name === "enter") { if (field && field.tagName === "TEXTAREA") { insert("\n"); } else { hide(); } }
    else if (name === "done") { hide(); }
    else if (name === "shift") { shift = !shift; build(layoutName); }
    else {
      insert(shift ? name.toUpperCase() : name);
      if (shift) { shift = false; build(layoutName); }
    }
  }
  function show(target) {
    field = target;
    shownAt = Date.now();
    var name = target.dataset.kb in LAYOUTS ? target.dataset.kb : "text";
    if (name !== layoutName || kb.hidden) { build(name); }
    kb.hidden = false;
    kb.setAttribute("aria-hidden", "false");
    document.body.classList.add("kb-open");
    if (pointerDown) { document.addEventListener("click", revealSoon, { capture: true, once: true }); }
    else { setTimeout(reveal, 0); }
  }
  function revealSoon() { setTimeout(reveal, 0); }
  /* scroll the field into view only when the keyboard hides it (or it is above the screen) */
  function reveal() {
    if (!field || kb.hidden) { return; }
    var r = field.getBoundingClientRect();
    var room = kb.getBoundingClientRect().top;
    if (r.bottom > room - 16 || r.top < 0) { window.scrollBy(0, r.top - Math.max(16, (room - r.height) / 2)); }
  }
  function hide() {
    if (!kb.hidden) { closedRect = kb.getBoundingClientRect(); closedAt = Date.now(); }
    kb.hidden = true;
    kb.setAttribute("aria-hidden", "true");
    document.body.classList.remove("kb-open");
    if (field) { field.blur(); }
    field = null;
  }
  kb.addEventListener("pointerdown", function (e) {
    var key = e.target.closest(".kb-key");
    e.preventDefault(); /* keep the focus (and the caret) in the field */
    e.stopPropagation(); /* a key rebuilt under the finger is still "inside" the keyboard */
    if (!key) { return; }
    key.classList.add("kb-pressed");
    setTimeout(function () { key.classList.remove("kb-pressed"); }, 120);
    if (!closes(key.dataset.key)) { press(key.dataset.key); }
  });
  kb.addEventListener("click", function (e) {
    var key = e.target.closest(".kb-key");
    e.preventDefault();
    e.stopPropagation();
    if (key && closes(key.dataset.key)) { press(key.dataset.key); }
  });
  /* For GHOST_MS after the keyboard closed, a tap where it was belongs to the keyboard, never to the page
     beneath: the click of the tap that closed it, and any new tap there (a double tap on "Selesai") too. Its
     pointerdown, touchstart, mousedown and click are swallowed; a tap that started in that place is swallowed
     to its click even when the click comes late. Taps elsewhere, and any tap after GHOST_MS, act as usual. */
  var swallowUntil = 0; /* the click of a swallowed tap, if it comes at all, comes before this */
  function inClosed(e) {
    var p = e.touches && e.touches.length ? e.touches[0] : (e.changedTouches && e.changedTouches[0]) || e;
    var r = closedRect;
    return r && p.clientX >= r.left && p.clientX <= r.right && p.clientY >= r.top && p.clientY <= r.bottom;
  }
  function guarded(e) {
    return closedRect && kb.hidden && Date.now() - closedAt <= GHOST_MS && inClosed(e);
  }
  function swallow(e) {
    if (e.cancelable) { e.preventDefault(); }
    e.stopPropagation();
    e.stopImmediatePropagation();
  }
  ["pointerdown", "touchstart", "mousedown"].forEach(function (type) {
    document.addEventListener(type, function (e) {
      if (guarded(e)) { swallowUntil = Date.now() + 1000; swallow(e); }
      else if (type === "pointerdown") { swallowUntil = 0; }
    }, { capture: true, passive: false });
  });
  ["pointerup", "touchend", "mouseup"].forEach(function (type) {
    document.addEventListener(type, function (e) {
      if (type === "pointerup") { pointerDown = false; }
      if (Date.now() < swallowUntil || guarded(e)) { swallow(e); }
    }, { capture: true, passive: false });
  });
  document.addEventListener("click", function (e) {
    if (Date.now() < swallowUntil || guarded(e)) { swallow(e); }
    swallowUntil = 0;
  }, true);
  document.addEventListener("pointerdown", function () { pointerDown = true; }, true);
  document.addEventListener("pointerup", function () { pointerDown = false; }, true);
  document.addEventListener("pointercancel", function () { pointerDown = false; }, true);
  document.addEventListener("focusin", function (e) {
    var t = e.target;
    if (t && t.dataset && t.dataset.kb) { show(t); }
  });
  /* a tap elsewhere closes the keyboard: on click, so that the layout does not move under the finger */
  document.addEventListener("click", function (e) {
    if (!field || kb.hidden || Date.now() - shownAt < 700) { return; } /* the tap that opened it */
    if (e.target === field || kb.contains(e.target)) { return; }
    if (!(e.target.dataset && e.target.dataset.kb)) { hide(); }
  });
  window.anjunganKeyboard = { hide: hide, show: show };
})();
