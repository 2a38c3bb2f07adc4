/* ketaflow staff pages. Loaded as a file: the Content-Security-Policy forbids inline scripts.
 *
 * 1. Idle time-out: after `data-idle-timeout` seconds without keys, pointer or HTMX requests (in any
 *    tab of this browser), submit the hidden sign-out form with reason=idle, so patient data does not
 *    stay on an unattended screen. A warning appears 60 seconds before (half the time-out if shorter).
 * 2. Small progressive enhancements: focus the error summary, confirm destructive actions.
 */
(function () {
  "use strict";

  var WARN_BEFORE_SECONDS = 60;
  var KEEPALIVE_EVERY_MS = 120 * 1000;
  var STORAGE_KEY = "ketaflow:last-activity";

  function now() { return Date.now(); }

  function csrfHeaders() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}");
    } catch (e) {
      return {};
    }
  }

  function startIdleTimer(body) {
    var timeoutSeconds = parseInt(body.dataset.idleTimeout || "", 10);
    var logoutForm = document.getElementById("idle-logout-form");
    if (!timeoutSeconds || timeoutSeconds < 60 || !logoutForm) { return; }

    var warnBefore = Math.min(WARN_BEFORE_SECONDS, Math.floor(timeoutSeconds / 2));
    var warning = document.getElementById("idle-warning");
    var countdown = document.getElementById("idle-countdown");
    var stayButton = document.getElementById("idle-stay");
    var keepaliveUrl = body.dataset.keepaliveUrl || "";
    var lastActivity = now();
    var lastKeepalive = now();
    var signingOut = false;

    function shared() {
      var stored = 0;
      try { stored = parseInt(window.localStorage.getItem(STORAGE_KEY) || "0", 10) || 0; } catch (e) { stored = 0; }
      return Math.max(stored, lastActivity);
    }

    function keepalive() {
      if (!keepaliveUrl) { return; }
      lastKeepalive = now();
      var headers = csrfHeaders();
      window.fetch(keepaliveUrl, { method: "POST", headers: headers, credentials: "same-origin" })
        .catch(function () { /* offline: the timer still signs out locally */ });
    }

    function activity(fromRequest) {
      if (signingOut) { return; }
      lastActivity = now();
      try { window.localStorage.setItem(STORAGE_KEY, String(lastActivity)); } catch (e) { /* private mode */ }
      if (fromRequest) {
        lastKeepalive = lastActivity;  // the request itself keeps the server session alive
      } else if (lastActivity - lastKeepalive > KEEPALIVE_EVERY_MS) {
        keepalive();
      }
      if (warning && !warning.hidden) { warning.hidden = true; }
    }

    function signOut() {
      if (signingOut) { return; }
      signingOut = true;
      logoutForm.submit();
    }

    function tick() {
      var idleSeconds = (now() - shared()) / 1000;
      var left = Math.ceil(timeoutSeconds - idleSeconds);
      if (left <= 0) {
        signOut();
        return;
      }
      if (warning) {
        if (left <= warnBefore) {
          if (countdown) { countdown.textContent = String(left); }
          if (warning.hidden) {
            warning.hidden = false;
            if (stayButton) { stayButton.focus(); }
          }
        } else if (!warning.hidden) {
          warning.hidden = true;
        }
      }
    }

    ["keydown", "pointerdown", "wheel", "touchstart"].forEach(function (name) {
      document.addEventListener(name, function () { activity(false); }, { passive: true, capture: true });
    });
    document.addEventListener("htmx:beforeRequest", function () { activity(true); });
    if (stayButton) {
      stayButton.addEventListener("click", function () { activity(false); keepalive(); });
    }
    activity(true);
    window.setInterval(tick, 1000);
  }

  function focusErrorSummary() {
    var summary = document.querySelector(".error-summary");
    if (summary) {
      summary.setAttribute("tabindex", "-1");
      summary.focus();
    }
  }

  function confirmDestructive() {
    document.addEventListener("submit", function (event) {
      var form = event.target;
      var message = form && form.dataset ? form.dataset.confirm : "";
      if (message && !window.confirm(message)) {
        event.preventDefault();
        event.stopImmediatePropagation();
      }
    }, true);
  }

  function closeMenusOnOutsideClick() {
    document.addEventListener("click", function (event) {
      document.querySelectorAll("details.account-menu[open]").forEach(function (menu) {
        if (!menu.contains(event.target)) { menu.removeAttribute("open"); }
      });
    });
    document.addEventListener("keydown", function (event) {
      if (event.key !== "Escape") { return; }
      document.querySelectorAll("details.account-menu[open]").forEach(function (menu) {
        menu.removeAttribute("open");
        var summary = menu.querySelector("summary");
        if (summary) { summary.focus(); }
      });
    });
  }

  /* After HTMX replaces a region, put keyboard focus somewhere sensible: the first field with an
   * error, else (when the clicked element itself was replaced) the region's current tab link. */
  function focusAfterSwap() {
    document.addEventListener("htmx:afterSwap", function (event) {
      var target = event.detail && event.detail.target;
      if (!target || !target.querySelector) { return; }
      var invalid = target.querySelector("[aria-invalid='true']");
      if (invalid) {
        invalid.focus();
        return;
      }
      var active = document.activeElement;
      if (!active || active === document.body || !document.body.contains(active)) {
        var current = target.querySelector("[aria-current='page']");
        if (current) { current.focus(); }
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    startIdleTimer(document.body);
    focusErrorSummary();
    confirmDestructive();
    closeMenusOnOutsideClick();
    focusAfterSwap();
  });
})();
