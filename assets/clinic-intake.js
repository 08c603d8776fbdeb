// The intake page (pages/intake.py): signature boxes drawn with a finger, a pen or a mouse
// (pointer events; touch-action none on the canvas keeps the page from scrolling while signing).
// window.clinicIntakeSignatures() hands the drawn ones to the server as PNG data URLs
// ({consent key: data URL}, blank boxes left out); a "Clear signature" button empties its box.
(function () {
  if (window.__clinicIntake) return; window.__clinicIntake = true;
  var drawing = null, last = null;
  function box(e) { var t = e.target; return t && t.matches && t.matches('canvas[data-signature]') ? t : null; }
  function at(canvas, e) {
    var r = canvas.getBoundingClientRect();
    return { x: (e.clientX - r.left) * canvas.width / r.width, y: (e.clientY - r.top) * canvas.height / r.height };
  }
  function pen(canvas) {
    var c = canvas.getContext('2d');
    c.lineWidth = 3; c.lineCap = 'round'; c.lineJoin = 'round'; c.strokeStyle = '#111';
    return c;
  }
  document.addEventListener('pointerdown', function (e) {
    var canvas = box(e); if (!canvas) return;
    e.preventDefault();
    drawing = canvas; last = at(canvas, e);
    if (canvas.setPointerCapture) { try { canvas.setPointerCapture(e.pointerId); } catch (err) { /* synthetic */ } }
    var c = pen(canvas); c.beginPath(); c.arc(last.x, last.y, 1.5, 0, 2 * Math.PI); c.fillStyle = '#111'; c.fill();
    canvas.dataset.signed = 'true';
    var status = document.getElementById(canvas.id + '-status'); if (status) status.textContent = 'Signed';
  });
  document.addEventListener('pointermove', function (e) {
    if (!drawing) return;
    var p = at(drawing, e), c = pen(drawing);
    c.beginPath(); c.moveTo(last.x, last.y); c.lineTo(p.x, p.y); c.stroke();
    last = p;
  });
  function stop() { drawing = null; last = null; }
  document.addEventListener('pointerup', stop);
  document.addEventListener('pointercancel', stop);
  document.addEventListener('click', function (e) {
    var button = e.target && e.target.closest ? e.target.closest('[data-clear-signature]') : null;
    if (!button) return;
    var canvas = document.getElementById(button.getAttribute('data-clear-signature'));
    if (!canvas) return;
    canvas.getContext('2d').clearRect(0, 0, canvas.width, canvas.height);
    canvas.dataset.signed = 'false';
    var status = document.getElementById(canvas.id + '-status'); if (status) status.textContent = 'Not signed yet';
  });
  window.clinicIntakeSignatures = function () {
    var out = {};
    document.querySelectorAll('canvas[data-signature]').forEach(function (canvas) {
      if (canvas.dataset.signed === 'true') out[canvas.getAttribute('data-signature')] = canvas.toDataURL('image/png');
    });
    return out;
  };
})();
