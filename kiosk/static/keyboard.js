/* anjungan on-screen keyboard: plain JavaScript, served by the kiosk.
   Fields opt in with data-kb="text" | "numeric" | "date" | "email". Keys act on pointerdown and keep the
   focus in the field; the keyboard never sends anything anywhere. */
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
    setTimeout(function () { target.scrollIntoView({ block: "center" }); }, 0);
  }
  function hide() {
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
    press(key.dataset.key);
  });
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
