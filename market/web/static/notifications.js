// The bell in the top bar, kept current by the server's event stream: the unread count and the
// newest message arrive without a reload. Without this script the bell is a link to the inbox.
(function () {
  "use strict";
  var bell = document.getElementById("bell");
  if (!bell || !window.EventSource) return;
  // The server ends each stream after a while; EventSource reconnects by itself.
  var source = new EventSource(bell.getAttribute("data-bell-stream"));
  source.onmessage = function (event) {
    bell.innerHTML = event.data;
    bell.setAttribute("data-live", "1");
  };
})();
