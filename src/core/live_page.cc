// The page of `stream --http-listen`: static HTML, filled by its inline script from the
// Server-Sent Events of /events (LiveBoard::replay brings a new page up to date, then every closed
// window and every alert change follows). EventSource reconnects by itself; a window seen twice
// (replayed, then published) replaces its first copy.
#include "logpipe/live.h"

#include "logpipe/text.h"

#include <fmt/format.h>

namespace logpipe {

namespace {

constexpr std::string_view kStyle = R"css(
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f5f6f8;color:#1d232b}
header{background:#1d2b3a;color:#fff;padding:14px 28px}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#b9c6d3;overflow-wrap:anywhere}
main{padding:18px 28px;max-width:1200px}
section{background:#fff;border:1px solid #dde2e8;border-radius:6px;padding:12px 16px;margin:0 0 16px}
h2{font-size:15px;margin:0 0 8px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:0 0 16px}
.card{flex:1 1 120px;background:#fff;border:1px solid #dde2e8;border-radius:6px;padding:8px 12px}
.card b{display:block;font-size:20px;font-variant-numeric:tabular-nums}.card span{color:#5b6673;font-size:12px;text-transform:uppercase}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(360px,100%),1fr));gap:16px}
.grid>section{min-width:0}.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:13px}
th{text-align:left;color:#5b6673;font-weight:600;border-bottom:1px solid #dde2e8;padding:4px 6px}
td{padding:3px 6px;border-bottom:1px solid #f0f2f5;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td:first-child{word-break:break-all}
.err{color:#c0392b}.ok{color:#2e7d32}
svg{width:100%;height:auto}svg text{font:11px system-ui,sans-serif;fill:#5b6673}
.legend span{display:inline-block;margin-right:14px;font-size:12px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
@media (max-width:640px){header,main{padding-left:10px;padding-right:10px}section{padding:10px}.card b{font-size:17px}}
)css";

// Keeps the last 120 windows by start time; redraws on every event.
constexpr std::string_view kScript =
    R"js((function(){var $=function(i){return document.getElementById(i);},W=[],A=null;)js"
    R"js(var g=function(n){return String(n).replace(/\B(?=(\d{3})+(?!\d))/g,',');};)js"
    R"js(var pct=function(n,d){return d?(100*n/d).toFixed(2)+'%':'\u2013';};)js"
    R"js(var ms=function(x){return x===null||x===undefined?'\u2013':x<1000?x.toFixed(1)+' ms':(x/1000).toFixed(2)+' s';};)js"
    R"js(var rps=function(x){return x<100?x.toFixed(2):g(Math.round(x));};)js"
    R"js(var set=function(i,t){$(i).textContent=t;};)js"
    R"js(var cell=function(r,t,c){var x=r.insertCell();x.textContent=t;if(c)x.className=c;};)js"
    R"js(var rows=function(i,l,u){var b=$(i).tBodies[0];b.textContent='';l.forEach(function(k){var r=b.insertRow();)js"
    R"js(cell(r,k.key);cell(r,g(k.requests),'n');cell(r,g(k.errors),k.errors?'n err':'n');)js"
    R"js(cell(r,pct(k.errors,k.outcomes),'n');if(u)cell(r,ms(k.p99_ms),'n');});};)js"
    R"js(var N='http://www.w3.org/2000/svg',el=function(p,n,a){var e=document.createElementNS(N,n);)js"
    R"js(for(var k in a)e.setAttribute(k,a[k]);p.appendChild(e);return e;};)js"
    R"js(var chart=function(){var s=$('chart');s.textContent='';var w=1000,h=220,l=52,r=52,t=10,b=24,n=W.length;)js"
    R"js(var mr=Math.max.apply(null,W.map(function(x){return x.request_rate;}).concat([1]));)js"
    R"js(var me=Math.max.apply(null,W.map(function(x){return x.error_rate;}).concat([0.01]));)js"
    R"js(var X=function(i){return l+(n<2?0:i*(w-l-r)/(n-1));};)js"
    R"js(var line=function(f,m,c){el(s,'polyline',{points:W.map(function(x,i){return X(i).toFixed(1)+','+)js"
    R"js((t+(h-t-b)*(1-f(x)/m)).toFixed(1);}).join(' '),fill:'none',stroke:c,'stroke-width':2});};)js"
    R"js(el(s,'line',{x1:l,x2:w-r,y1:h-b,y2:h-b,stroke:'#dde2e8'});)js"
    R"js(el(s,'text',{x:l-6,y:t+8,'text-anchor':'end'}).textContent=rps(mr);)js"
    R"js(el(s,'text',{x:w-r+6,y:t+8}).textContent=(100*me).toFixed(1)+'%';)js"
    R"js(el(s,'text',{x:l-6,y:h-b,'text-anchor':'end'}).textContent='0';)js"
    R"js(if(n){el(s,'text',{x:l,y:h-6}).textContent=W[0].window_start.substr(11,8);)js"
    R"js(el(s,'text',{x:w-r,y:h-6,'text-anchor':'end'}).textContent=W[n-1].window_end.substr(11,8);})js"
    R"js(line(function(x){return x.request_rate;},mr,'#4a90d9');line(function(x){return x.error_rate;},me,'#c0392b');};)js"
    R"js(var show=function(){var w=W[W.length-1];if(w){set('window',w.window_start+' \u2013 '+w.window_end);)js"
    R"js(set('c-requests',g(w.requests));set('c-rate',rps(w.request_rate));set('c-errors',g(w.errors));)js"
    R"js(set('c-error-rate',pct(w.errors,w.outcomes));set('c-5xx',g(w.server_errors));set('c-p50',ms(w.p50_ms));)js"
    R"js(set('c-p95',ms(w.p95_ms));set('c-p99',ms(w.p99_ms));set('c-windows',g(W.length));)js"
    R"js(rows('urls',w.top.url,1);rows('users',w.top.user);rows('ips',w.top.ip);chart();})js"
    R"js(if(A){set('c-alerts',g(A.open.length));set('fired',g(A.fired)+' fired, '+g(A.resolved)+' resolved');)js"
    R"js(var b=$('alerts').tBodies[0];b.textContent='';A.open.forEach(function(a){var r=b.insertRow();)js"
    R"js(cell(r,a.metric);cell(r,a.key||'(all)');cell(r,a.human,'n err');cell(r,g(a.errors)+' of '+g(a.requests),'n');)js"
    R"js(cell(r,a.window_end);cell(r,a.incident);});}};)js"
    R"js(var es=new EventSource('events');)js"
    R"js(es.addEventListener('window',function(e){var w=JSON.parse(e.data),i=0;)js"
    R"js(while(i<W.length&&W[i].window_start<w.window_start)i++;)js"
    R"js(if(i<W.length&&W[i].window_start===w.window_start)W[i]=w;else W.splice(i,0,w);)js"
    R"js(while(W.length>120)W.shift();show();});)js"
    R"js(es.addEventListener('alerts',function(e){A=JSON.parse(e.data);show();});)js"
    R"js(es.onopen=function(){set('status','live');$('status').className='ok';};)js"
    R"js(es.onerror=function(){set('status','reconnecting\u2026');$('status').className='err';};})();)js";

std::string build_page() {
  std::string out =
      "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
      "connect-src 'self'; script-src ";
  out += csp_script_hash(kScript);
  out += "\"><meta name=viewport content=\"width=device-width,initial-scale=1\"><title>logpipe stream (live)</title><style>";
  out += kStyle;
  out += "</style></head><body><header><h1>logpipe stream: live</h1><p><span id=status>connecting\u2026</span> "
         "\u00b7 last window <span id=window>none closed yet</span></p></header><main>"
         "<noscript><section>This page follows the stream through a script. Without scripts, the same "
         "values are at <a href=\"metrics\">/metrics</a> (Prometheus text).</section></noscript>"
         "<div class=cards>";
  const std::pair<const char*, const char*> cards[] = {
      {"c-requests", "requests"}, {"c-rate", "requests/s"}, {"c-errors", "errors"}, {"c-error-rate", "error rate"},
      {"c-5xx", "5xx"},           {"c-p50", "p50"},         {"c-p95", "p95"},       {"c-p99", "p99"},
      {"c-alerts", "open alerts"}, {"c-windows", "windows shown"}};
  for (auto [id, label] : cards) out += fmt::format("<div class=card><b id={}>\u2013</b><span>{}</span></div>", id, label);
  out += "</div><section><h2>Requests per second and error rate, per window</h2>"
         "<p class=legend><span><i style=\"background:#4a90d9\"></i>requests/s (left axis)</span>"
         "<span><i style=\"background:#c0392b\"></i>error rate (right axis)</span></p>"
         "<svg id=chart viewBox=\"0 0 1000 220\" role=img aria-label=\"requests and error rate per window\"></svg></section>"
         "<section><h2>Open alerts <small id=fired></small></h2><div class=scroll><table id=alerts><thead><tr>"
         "<th>metric</th><th>key</th><th class=n>value</th><th class=n>errors</th><th>since</th><th>incident</th>"
         "</tr></thead><tbody></tbody></table></div></section><div class=grid>";
  const std::pair<const char*, const char*> tables[] = {{"urls", "URLs"}, {"users", "Users"}, {"ips", "Client IPs"}};
  for (auto [id, title] : tables) {
    out += fmt::format("<section><h2>{} of the last window</h2><div class=scroll><table id={}><thead><tr><th>key</th>"
                       "<th class=n>requests</th><th class=n>errors</th><th class=n>error rate</th>",
                       title, id);
    if (std::string_view(id) == "urls") out += "<th class=n>p99</th>";
    out += "</tr></thead><tbody></tbody></table></div></section>";
  }
  out += "</div></main><script>";
  out += kScript;
  out += "</script></body></html>\n";
  return out;
}

}  // namespace

const std::string& live_page_html() {
  static const std::string page = build_page();
  return page;
}

}  // namespace logpipe
