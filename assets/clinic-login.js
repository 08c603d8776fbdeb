// The sign-in form (pages/login.py): sent to POST /auth/sign-in, which sets the HttpOnly
// session cookie. On success the tab forgets its client token and loads the user's page
// afresh, so that its new socket opens with the cookie; a refusal is shown in the alert.
(function () {
  if (window.__clinicSignIn) return;
  window.__clinicSignIn = true;
  var SAME_HOST = ["localhost", "0.0.0.0", "::", "[::]", "0:0:0:0:0:0:0:0"];
  var WAIT_MS = 20000;

  function endpoint(form) {
    var url;
    try {
      url = new URL(form.getAttribute("action") || "/auth/sign-in", form.getAttribute("data-backend") || window.location.origin);
    } catch (e) {
      url = new URL("/auth/sign-in", window.location.origin);
    }
    if (SAME_HOST.indexOf(url.hostname) >= 0) { // as Reflex's getBackendURL does
      url.hostname = window.location.hostname;
      if (window.location.protocol === "https:") { url.protocol = "https:"; url.port = ""; }
    }
    return url.toString();
  }

  function show(text) {
    var box = document.getElementById("sign-in-error");
    if (box) box.textContent = text;
  }

  // A form sent before this script was there came back with a code (api/signin.py): say it.
  var FAILED = {
    bad: "Username or password is incorrect.",
    locked: "This account is locked after repeated failed sign-ins; wait, or ask an admin to unlock it.",
    limited: "Too many sign-in attempts; wait a minute and try again.",
    busy: "The server is busy checking other sign-ins; try again in a moment.",
  };
  var failed = new URLSearchParams(window.location.search).get("failed");
  if (failed && FAILED[failed]) {
    var shown = function () {
      if (document.getElementById("sign-in-error")) { show(FAILED[failed]); } else { setTimeout(shown, 50); }
    };
    shown();
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form || form.id !== "sign-in-form") return;
    event.preventDefault();
    var button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    show("");
    // A server that does not answer (a dropped connection, an overloaded machine) is said in
    // words after WAIT_MS, and the button works again: never a form that stays silent.
    var controller = window.AbortController ? new AbortController() : null;
    var timer = controller ? setTimeout(function () { controller.abort(); }, WAIT_MS) : null;
    fetch(endpoint(form), {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      credentials: "include",
      headers: { "Accept": "application/json" },
      signal: controller ? controller.signal : undefined,
    }).then(function (response) {
      if (timer) clearTimeout(timer);
      return response.json().catch(function () { return {}; }).then(function (answer) {
        if (response.ok && answer.ok) {
          window.sessionStorage.removeItem("token"); // a new tab identity for the signed-in user
          window.location.replace(answer.to || "/");
          return;
        }
        show(answer.error || "Signing in did not work; try again.");
        if (button) button.disabled = false;
      });
    }).catch(function (error) {
      if (timer) clearTimeout(timer);
      show(error && error.name === "AbortError"
        ? "The clinic server did not answer in time; press Sign in again."
        : "The clinic server cannot be reached; check the connection and try again.");
      if (button) button.disabled = false;
    });
  }, true);
})();
