import Foundation
import YTAutoCore

/// HTML text, built only from escaped strings and the console's own markup: every value that
/// came from a database, a configuration or an LLM goes through ``escape(_:)`` (a topic of
/// `<script>alert(1)</script>` shows as text).
enum HTML {
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// A query string's value, percent-encoded for a link.
    static func query(_ items: [(String, String?)]) -> String {
        var c = URLComponents()
        c.queryItems = items.compactMap { k, v in v.flatMap { $0.isEmpty ? nil : URLQueryItem(name: k, value: $0) } }
        return c.percentEncodedQuery.map { "?" + $0.replacingOccurrences(of: "+", with: "%2B") } ?? ""
    }

    static func time(_ date: Date?) -> String {
        guard let date else { return "—" }
        return escape(Timestamp.string(date).replacingOccurrences(of: "T", with: " ").replacingOccurrences(of: ".000Z", with: "Z"))
    }

    static func duration(ms: Int64?) -> String { ms.map { escape(Output.duration(Double($0) / 1000)) } ?? "—" }

    static func state(_ text: String) -> String {
        "<span class=\"state state-\(escape(text))\">\(escape(text))</span>"
    }

    /// The page: one stylesheet and one small script, inline (no CDN, no font: it works offline).
    static func page(title: String, active: String, csrf: String, body: String) -> String {
        let nav = [("/", "Overview"), ("/jobs", "Jobs"), ("/review", "Review"), ("/channels", "Channels"), ("/workers", "Workers"), ("/audit", "Audit")]
            .map { href, name in "<a href=\"\(href)\"\(name == active ? " class=\"active\" aria-current=\"page\"" : "")>\(name)</a>" }
            .joined()
        // Signed in (a console with users): who, and for a viewer no action (the server refuses them too).
        let user = ConsoleIdentity.current
        let viewer = user?.role == .viewer
        let who = user.map { "<span class=\"who\">\(escape($0.name)) (\($0.role.rawValue))</span>" } ?? ""
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <link rel="icon" href="data:,">
            <title>\(escape(title)) · ytauto</title>
            <style>\(stylesheet)</style></head>
            <body\(viewer ? " class=\"viewer\"" : "")><header><strong>ytauto</strong><nav>\(nav)</nav>\(who)</header>
            <main>\(body)</main>
            <script>\(script)</script></body></html>
            """
    }

    static let stylesheet = """
        .viewer form[method=post]{display:none}.who{margin-left:auto;color:#cfd6de}
        *{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d232a;background:#f5f6f8}
        header{display:flex;flex-wrap:wrap;gap:1rem;align-items:center;padding:.6rem 1rem;background:#1d232a;color:#fff}
        nav{display:flex;flex-wrap:wrap;gap:.2rem}nav a{color:#cfd6de;text-decoration:none;padding:.25rem .6rem;border-radius:4px}
        nav a.active,nav a:hover{background:#36404a;color:#fff}main{padding:1rem;max-width:1200px;margin:0 auto}
        h1{font-size:1.35rem;margin:.2rem 0 1rem}h2{font-size:1.05rem;margin:1.4rem 0 .5rem}
        .cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(220px,1fr));gap:.8rem}
        .card{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:.8rem}
        .wide{overflow-x:auto}table{border-collapse:collapse;width:100%;background:#fff}
        th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #e6e9ed;vertical-align:top}th{background:#eef1f4;font-weight:600}
        td.num,th.num{text-align:right}.muted{color:#66707a}.error{color:#a4262c}
        .state{display:inline-block;padding:0 .4rem;border-radius:3px;font-size:.85em;background:#e6e9ed}
        .state-succeeded{background:#dff3e4}.state-failed{background:#fbe1e1}.state-running{background:#dde9fb}.state-cancelled{background:#eee}
        .state-queued{background:#fff3d6}.state-skipped{background:#eee}.state-lost{background:#fbe1e1}.state-retrying{background:#fff3d6}.state-paused{background:#f3e1fb}
        form.inline{display:inline}button{font:inherit;padding:.25rem .7rem;border:1px solid #9aa4ae;border-radius:4px;background:#fff;cursor:pointer}
        button.danger{border-color:#a4262c;color:#a4262c}.filters{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end;margin-bottom:.8rem}
        .filters label{display:flex;flex-direction:column;font-size:.85em}input,select{font:inherit;padding:.2rem .3rem}
        video{max-width:100%;max-height:70vh;background:#000}img.thumb{max-width:320px;width:100%}
        .notice{background:#fff3d6;border:1px solid #e8d49a;padding:.5rem .8rem;border-radius:4px;margin-bottom:.8rem}
        svg text{font-size:10px;fill:#66707a}
        @media (max-width:600px){main{padding:.5rem}th,td{padding:.3rem}.hide-narrow{display:none}}
        """

    /// Asks before a form marked `data-confirm` is sent, with the form's own words.
    static let script = """
        document.addEventListener('submit',function(e){var m=e.target.getAttribute('data-confirm');if(m&&!window.confirm(m)){e.preventDefault();}});
        (function(){
          var live=document.getElementById('live'),one=document.getElementById('live-job');
          if((!live&&!one)||!window.EventSource)return;
          var es=new EventSource('/events');
          es.addEventListener('running',function(e){
            var jobs=JSON.parse(e.data);
            if(live){
              live.textContent='';
              if(!jobs.length){var p=document.createElement('p');p.className='muted';p.textContent='no job is running';live.appendChild(p);}
              else{var ul=document.createElement('ul');jobs.forEach(function(j){
                var li=document.createElement('li'),a=document.createElement('a');li.id='live-'+j.id;li.setAttribute('data-stage',j.stage||'');
                a.href='/jobs/'+j.id;a.textContent='job '+j.id;li.appendChild(a);
                li.appendChild(document.createTextNode(' '+j.channel+' · '+(j.topic||'')+' · '+(j.stage||'starting')+' ('+j.stage_index+'/'+j.stages+'), attempt '+j.attempt));
                ul.appendChild(li);});live.appendChild(ul);}
            }
            if(one){
              var id=Number(one.getAttribute('data-job')),j=jobs.filter(function(x){return x.id===id;})[0];
              if(j){one.setAttribute('data-stage',j.stage||'');one.textContent='running: '+(j.stage||'starting')+' ('+j.stage_index+'/'+j.stages+')';}
              else{one.setAttribute('data-stage','');one.textContent='it has stopped running: reload to see how it ended';es.close();}
            }
          });
        })();
        """
}
