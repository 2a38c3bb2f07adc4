/* The consent signing form.
   1. The signature pad: draw with a finger, stylus or mouse (pointer events); each stroke writes the
      drawing as a PNG data URL into the hidden input named by data-target; "Clear" empties both. A
      drawing kept after a refused submission is drawn again.
   2. On a clinic tablet (a staff session, form[data-keepalive-url]) the patient's reading (scrolling,
      touching, typing) keeps the session from its idle time-out, at most one ping every 2 minutes;
      an untouched tablet still times out.
   No inline script anywhere (CSP): this file is loaded with defer. */
(function () {
  "use strict";

  function setUp(canvas) {
    var input = document.getElementById(canvas.getAttribute("data-target"));
    if (!input) { return; }
    var wrapper = canvas.closest(".consent-signature");
    var ratio = Math.min(window.devicePixelRatio || 1, 2);
    var rect = canvas.getBoundingClientRect();
    canvas.width = Math.max(1, Math.round(rect.width * ratio));
    canvas.height = Math.max(1, Math.round(rect.height * ratio));
    var ctx = canvas.getContext("2d");
    ctx.lineWidth = 2.5 * ratio;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.strokeStyle = "#111827";
    var drawing = false;
    var last = null;

    function point(event) {
      var box = canvas.getBoundingClientRect();
      return {
        x: (event.clientX - box.left) * (canvas.width / box.width),
        y: (event.clientY - box.top) * (canvas.height / box.height)
      };
    }
    function mark(drawn) {
      if (wrapper) { wrapper.classList.toggle("consent-signature--drawn", drawn); }
    }

    canvas.addEventListener("pointerdown", function (event) {
      event.preventDefault();
      drawing = true;
      last = point(event);
      canvas.setPointerCapture(event.pointerId);
      ctx.beginPath();
      ctx.arc(last.x, last.y, ctx.lineWidth / 2, 0, Math.PI * 2);
      ctx.fillStyle = ctx.strokeStyle;
      ctx.fill();
    });
    canvas.addEventListener("pointermove", function (event) {
      if (!drawing) { return; }
      event.preventDefault();
      var next = point(event);
      ctx.beginPath();
      ctx.moveTo(last.x, last.y);
      ctx.lineTo(next.x, next.y);
      ctx.stroke();
      last = next;
    });
    function finish() {
      if (!drawing) { return; }
      drawing = false;
      input.value = canvas.toDataURL("image/png");
      mark(true);
    }
    canvas.addEventListener("pointerup", finish);
    canvas.addEventListener("pointercancel", finish);
    canvas.addEventListener("pointerleave", finish);

    var clear = document.querySelector('[data-signature-clear="' + input.id + '"]');
    if (clear) {
      clear.addEventListener("click", function () {
        ctx.clearRect(0, 0, canvas.width, canvas.height);
        input.value = "";
        mark(false);
      });
    }

    if (input.value.indexOf("data:image/png;base64,") === 0) {
      var kept = new Image();
      kept.onload = function () {
        ctx.drawImage(kept, 0, 0, canvas.width, canvas.height);
        mark(true);
      };
      kept.src = input.value;
    }
  }

  var KEEPALIVE_EVERY_MS = 120 * 1000;

  function keepAliveWhileReading(form) {
    var url = form.getAttribute("data-keepalive-url");
    var token = form.querySelector('input[name="csrfmiddlewaretoken"]');
    if (!url || !token || !window.fetch) { return; }
    var last = Date.now();
    function activity() {
      if (Date.now() - last < KEEPALIVE_EVERY_MS) { return; }
      last = Date.now();
      window.fetch(url, { method: "POST", headers: { "X-CSRFToken": token.value }, credentials: "same-origin" })
        .catch(function () { /* offline: nothing to do */ });
    }
    ["keydown", "pointerdown", "touchstart", "wheel", "scroll"].forEach(function (name) {
      window.addEventListener(name, activity, { passive: true, capture: true });
    });
  }

  function start() {
    var pads = document.querySelectorAll("canvas[data-signature-pad]");
    for (var i = 0; i < pads.length; i += 1) { setUp(pads[i]); }
    var forms = document.querySelectorAll("form[data-keepalive-url]");
    for (var j = 0; j < forms.length; j += 1) { keepAliveWhileReading(forms[j]); }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
