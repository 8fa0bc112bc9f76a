// The little JavaScript of the helpdesk: dialogs, the credit methods of the chosen invoice,
// the delivery picker of the return dialog, and the coupon's Copy button.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("button[data-dialog]")) {
    button.addEventListener("click", () => document.getElementById(button.dataset.dialog).showModal());
  }
  for (const button of document.querySelectorAll("dialog .close")) {
    button.addEventListener("click", () => button.closest("dialog").close());
  }

  const invoice = document.getElementById("refund-invoice");
  if (invoice) {
    invoice.addEventListener("change", async () => {
      const methods = document.getElementById("refund-method");
      const url = `/api/tickets/${invoice.dataset.ticket}/invoices/${invoice.value}/methods`;
      const answer = await fetch(url);
      const allowed = await answer.json();
      methods.replaceChildren(...allowed.map((m) => new Option(m, m)));
      methods.dataset.invoice = invoice.value;  // the options are those of this invoice
    });
  }

  const delivery = document.getElementById("return-delivery");
  if (delivery) {
    delivery.addEventListener("change", () => {
      for (const form of document.querySelectorAll(".return-form")) {
        form.hidden = form.dataset.delivery !== delivery.value;
      }
    });
  }

  const copy = document.getElementById("coupon-copy");
  if (copy) {
    copy.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(copy.dataset.copy);
      } catch {
        // a page outside a secure context: select the code instead
        window.getSelection().selectAllChildren(document.getElementById("coupon-code"));
      }
      document.getElementById("copied").hidden = false;
    });
  }
});
