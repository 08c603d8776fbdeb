// The portal's Pay page with Stripe (pages/portal_pay.py): once the server has created the
// PaymentIntent, #stripe-payment carries its client secret, the publishable key, where Stripe.js
// is loaded from and the page to come back to. This loads Stripe.js (once), mounts Stripe's
// Payment Element in #stripe-payment-element and, on the Pay button, confirms the payment with
// Stripe: the card goes to Stripe only. Stripe then sends the patient back to the Pay page with
// payment_intent and redirect_status; a card refused at once is said in #stripe-payment-error.
(function () {
  if (window.__clinicStripe) return;
  window.__clinicStripe = true;
  var loading = null; // the Stripe.js <script> being loaded: a promise of window.Stripe
  var mounted = { secret: "", target: null, stripe: null, elements: null, pending: false };

  function loadStripe(src) {
    if (window.Stripe) return Promise.resolve(window.Stripe);
    if (!loading) {
      loading = new Promise(function (resolve, reject) {
        var script = document.createElement("script");
        script.src = src;
        script.onload = function () { window.Stripe ? resolve(window.Stripe) : reject(new Error("no Stripe")); };
        script.onerror = function () { loading = null; reject(new Error("not loaded")); };
        document.head.appendChild(script);
      });
    }
    return loading;
  }

  function show(text) {
    var box = document.getElementById("stripe-payment-error");
    if (box) box.textContent = text;
  }

  function mount() {
    var box = document.getElementById("stripe-payment");
    var target = document.getElementById("stripe-payment-element");
    var secret = box && box.getAttribute("data-client-secret");
    if (!secret || !target) return;
    if (mounted.secret === secret && mounted.target === target && (mounted.pending || target.childElementCount > 0)) return;
    mounted = { secret: secret, target: target, stripe: null, elements: null, pending: true };
    loadStripe(box.getAttribute("data-stripe-js")).then(function (Stripe) {
      if (mounted.secret !== secret) return; // another payment was started meanwhile
      var stripe = Stripe(box.getAttribute("data-publishable-key"));
      var elements = stripe.elements({ clientSecret: secret });
      target.innerHTML = "";
      elements.create("payment").mount(target);
      mounted.stripe = stripe;
      mounted.elements = elements;
      mounted.pending = false;
      show("");
    }).catch(function () {
      mounted.secret = "";
      mounted.pending = false;
      show("The card service cannot be reached; check the connection and try again.");
    });
  }

  function pay(button) {
    if (!mounted.stripe) {
      show("The card form is still loading; wait a moment and try again.");
      return;
    }
    var box = document.getElementById("stripe-payment");
    var back = new URL(box.getAttribute("data-return-url") || "/portal/pay", window.location.href).toString();
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    show("");
    mounted.stripe.confirmPayment({ elements: mounted.elements, confirmParams: { return_url: back } })
      .then(function (result) {
        // Only a refusal comes back here; a payment that goes through leaves for return_url.
        if (result && result.error) show(result.error.message || "The card was not accepted; nothing was charged.");
      }, function () {
        show("The card service cannot be reached; check the connection and try again.");
      })
      .then(function () {
        button.disabled = false;
        button.removeAttribute("aria-busy");
      });
  }

  document.addEventListener("click", function (event) {
    var button = event.target && event.target.closest && event.target.closest("#stripe-pay-button");
    if (!button || button.disabled) return;
    event.preventDefault();
    pay(button);
  }, true);

  // The container appears (or gets a new client secret) when the server answers "Continue".
  new MutationObserver(mount).observe(document.documentElement, {
    childList: true, subtree: true, attributes: true, attributeFilter: ["data-client-secret"],
  });
  mount();
})();
