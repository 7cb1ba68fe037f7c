/* What the SQLite queue's statements cost without Swift (docs/benchmarks.md, 2026-12-04 evening).

   One process, no contention, C straight on libsqlite3: the store's schema (copied from a migrated
   file, with the objects named in DROP left out), G completions each leasing the next job in one
   write transaction, with the statements of SQLiteJobStore.SQL (the lease and the completion with
   RETURNING of every column, the attempt's insert and end, the check for paused channels; copies
   of their text that BenchCopyTests holds equal to the store's), as a
   worker with G slots writes them; then the minimal queue (one table, one partial index, the lease
   UPDATE ... RETURNING id and the completion UPDATE, autocommit) on a fresh file. 20,000 jobs each
   on a backlog of 1,000. Both with WAL and synchronous=NORMAL; foreign keys stay off (SQLite's
   default), where the store turns them on, so ours skips the check of an attempt's job.

   gcc -O2 -o /tmp/queue_parts docs/bench/queue_parts.c -lsqlite3
   ytauto-admin migrate --db /tmp/schema.db
   NOSTAT=1 NOBULK=1 /tmp/queue_parts /tmp/schema.db /tmp/parts.db ,, 2 0

   Arguments: SCHEMA PATH DROP G ROWLESS. DROP: names of indexes or triggers to leave out, each
   between commas (",," for none). ROWLESS=1: job_attempts keyed by (job_id, lease_token) without
   its rowid and without the (channel, started_at) index.
   Environment: NOSTAT=1 and NOBULK=1 make ytauto's process-wide settings (memory statistics off, no
   bulk page-cache allocation); NOATT=1 leaves out the attempt rows; NOPAUSE=1 the paused-channel
   check; NORET=1 completes without RETURNING and reads the row back; ENDATT=1 writes each attempt's
   row once, whole, when it ends (in the completion's transaction) instead of inserting it at the
   lease and updating it at the end (the "attempts schema" of docs/benchmarks.md, priced there on
   2026-12-04, night). NOSTAT and NOBULK hold for the
   whole process, the minimal queue's run too (on 2026-12-04 it moved the minimal queue less than
   its run-to-run spread); the others change only ours. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec/1e9;}
static void ex(sqlite3*db,const char*s){char*e=0;if(sqlite3_exec(db,s,0,0,&e)!=SQLITE_OK){fprintf(stderr,"%s: %s\n",s,e);exit(1);}}
static sqlite3_stmt*prep(sqlite3*db,const char*s){sqlite3_stmt*st;if(sqlite3_prepare_v2(db,s,-1,&st,0)!=SQLITE_OK){fprintf(stderr,"prep %s: %s\n",s,sqlite3_errmsg(db));exit(1);}return st;}
#define COLS "id, channel, topic, payload, state, priority, run_at, attempt, max_attempts, lease_owner, lease_token, lease_expires_at, cancel_requested, current_stage, unique_key, last_error_code, last_error_message, created_at, updated_at, finished_at, kind, scheduled_at"
int main(int argc,char**argv){
  const char*schema=argv[1]; const char*path=argv[2]; const char*drop=argv[3]; int G=atoi(argv[4]); int rowless=atoi(argv[5]); int N=20000, B=1000;
  if(getenv("NOBULK")) sqlite3_config(SQLITE_CONFIG_PAGECACHE, (void*)0, 0, 0);
  if(getenv("NOSTAT")) sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  char buf[4096]; snprintf(buf,sizeof buf,"rm -f %s %s-wal %s-shm",path,path,path); system(buf);
  sqlite3*src,*db; sqlite3_open(schema,&src); sqlite3_open(path,&db);
  ex(db,"PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=10000");
  sqlite3_stmt*s=prep(src,"SELECT name, sql FROM sqlite_schema WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY CASE type WHEN 'table' THEN 0 ELSE 1 END");
  while(sqlite3_step(s)==SQLITE_ROW){const char*n=(const char*)sqlite3_column_text(s,0);const char*q=(const char*)sqlite3_column_text(s,1);
    char key[256];snprintf(key,sizeof key,",%s,",n); if(strstr(drop,key))continue;
    if(rowless && !strcmp(n,"job_attempts")){ ex(db,"CREATE TABLE job_attempts (job_id INTEGER NOT NULL, attempt INTEGER NOT NULL, lease_token INTEGER NOT NULL, channel TEXT NOT NULL, worker_id TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT, outcome TEXT CHECK (outcome IN ('succeeded','failed','retrying','handed_back','lost','cancelled','review')), stage TEXT, error_code TEXT, error_message TEXT, pipeline TEXT, lease_seconds REAL, heartbeat_at TEXT, due_at TEXT, PRIMARY KEY (job_id, lease_token), CHECK ((outcome IS NULL) = (finished_at IS NULL))) WITHOUT ROWID"); continue;}
    if(rowless && !strcmp(n,"job_attempts_channel_started")) continue;
    char*e=0; if(sqlite3_exec(db,q,0,0,&e)!=SQLITE_OK){/*fprintf(stderr,"skip %s: %s\n",n,e);*/}
  }
  ex(db,"BEGIN");
  sqlite3_stmt*ins=prep(db,"INSERT INTO jobs (channel, topic, payload, state, priority, run_at, max_attempts, created_at, updated_at, kind, scheduled_at) VALUES ('c1','t','{}','queued',0,'2026-12-01T00:00:00.000Z',3,'2026-12-01T00:00:00.000Z','2026-12-01T00:00:00.000Z','synthetic','2026-12-01T00:00:00.000Z')");
  for(int i=0;i<N+B+G;i++){sqlite3_step(ins);sqlite3_reset(ins);}
  ex(db,"COMMIT");
  sqlite3_stmt*lease=prep(db,"UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = ?1, lease_token = lease_token + 1, lease_expires_at = ?2, updated_at = ?3 WHERE id = coalesce((SELECT CASE WHEN run_at <= ?3 THEN id END FROM jobs INDEXED BY jobs_lease WHERE state = 'queued' AND kind = ?4 ORDER BY priority, run_at, id LIMIT 1), (WITH RECURSIVE level(priority, run_at, id) AS (SELECT priority, run_at, id FROM (SELECT priority, run_at, id FROM jobs INDEXED BY jobs_lease WHERE state = 'queued' AND kind = ?4 ORDER BY priority, run_at, id LIMIT 1) UNION ALL SELECT next.priority, next.run_at, next.id FROM level JOIN jobs AS next ON next.id = (SELECT id FROM jobs INDEXED BY jobs_lease WHERE state = 'queued' AND kind = ?4 AND priority > level.priority ORDER BY priority, run_at, id LIMIT 1) WHERE level.run_at > ?3) SELECT id FROM level WHERE run_at <= ?3)) RETURNING " COLS);
  sqlite3_stmt*att=prep(db,"INSERT INTO job_attempts (job_id, attempt, lease_token, channel, worker_id, started_at, pipeline, lease_seconds, heartbeat_at, due_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?6, ?9)");
  sqlite3_stmt*comp=prep(db,"UPDATE jobs SET state = 'succeeded', lease_owner = NULL, lease_expires_at = NULL, finished_at = ?1, updated_at = ?1, last_error_code = NULL, last_error_message = NULL WHERE id = ?2 AND state = 'running' AND lease_token = ?3 AND lease_owner = ?4 RETURNING " COLS);
  sqlite3_stmt*comp2=prep(db,"UPDATE jobs SET state = 'succeeded', lease_owner = NULL, lease_expires_at = NULL, finished_at = ?1, updated_at = ?1, last_error_code = NULL, last_error_message = NULL WHERE id = ?2 AND state = 'running' AND lease_token = ?3 AND lease_owner = ?4");
  sqlite3_stmt*sel=prep(db,"SELECT " COLS " FROM jobs WHERE id = ?");
  int endatt=getenv("ENDATT")!=0; int noret=getenv("NORET")!=0, nopause=getenv("NOPAUSE")!=0, noatt=getenv("NOATT")!=0;
  sqlite3_stmt*endins=prep(db,"INSERT INTO job_attempts (job_id, attempt, lease_token, channel, worker_id, started_at, pipeline, lease_seconds, heartbeat_at, due_at, finished_at, outcome) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?6, ?9, ?10, ?11)");
  sqlite3_stmt*fin=prep(db,"UPDATE job_attempts SET finished_at = ?, outcome = ?, stage = ?, error_code = ?, error_message = ? WHERE job_id = ? AND lease_token = ?");
  sqlite3_stmt*pz=prep(db,"SELECT channel FROM channel_pauses");
  sqlite3_stmt*bg=prep(db,"BEGIN IMMEDIATE"),*cm=prep(db,"COMMIT");
  long long ids[64],tok[64]; int an[64];
  #define STEP(x) do{int rc;while((rc=sqlite3_step(x))==SQLITE_ROW);if(rc!=SQLITE_DONE){fprintf(stderr,"%d %s\n",rc,sqlite3_errmsg(db));exit(1);}sqlite3_reset(x);}while(0)
  #define LEASE(k) do{ if(!nopause){sqlite3_step(pz);sqlite3_reset(pz);} sqlite3_bind_text(lease,1,"worker-1",-1,0);sqlite3_bind_text(lease,2,"2026-12-01T01:00:00.000Z",-1,0);sqlite3_bind_text(lease,3,"2026-12-01T00:00:01.000Z",-1,0);sqlite3_bind_text(lease,4,"synthetic",-1,0); \
     if(sqlite3_step(lease)!=SQLITE_ROW){fprintf(stderr,"no lease\n");exit(1);} ids[k]=sqlite3_column_int64(lease,0); tok[k]=sqlite3_column_int64(lease,10); int a=sqlite3_column_int(lease,7); an[k]=a; for(int c=0;c<22;c++) sqlite3_column_text(lease,c); STEP(lease); \
     sqlite3_bind_int64(att,1,ids[k]);sqlite3_bind_int(att,2,a);sqlite3_bind_int64(att,3,tok[k]);sqlite3_bind_text(att,4,"c1",-1,0);sqlite3_bind_text(att,5,"worker-1",-1,0);sqlite3_bind_text(att,6,"2026-12-01T00:00:01.000Z",-1,0);sqlite3_bind_text(att,7,"synthetic",-1,0);sqlite3_bind_double(att,8,300);sqlite3_bind_text(att,9,"2026-12-01T00:00:00.000Z",-1,0); if(!noatt && !endatt) STEP(att); else sqlite3_reset(att);}while(0)
  #define FIN(k) do{ sqlite3_bind_text(fin,1,"2026-12-01T00:00:02.000Z",-1,0);sqlite3_bind_text(fin,2,"succeeded",-1,0);sqlite3_bind_null(fin,3);sqlite3_bind_null(fin,4);sqlite3_bind_null(fin,5);sqlite3_bind_int64(fin,6,ids[k]);sqlite3_bind_int64(fin,7,tok[k]); \
     if(endatt){ sqlite3_bind_int64(endins,1,ids[k]);sqlite3_bind_int(endins,2,an[k]);sqlite3_bind_int64(endins,3,tok[k]);sqlite3_bind_text(endins,4,"c1",-1,0);sqlite3_bind_text(endins,5,"worker-1",-1,0);sqlite3_bind_text(endins,6,"2026-12-01T00:00:01.000Z",-1,0);sqlite3_bind_text(endins,7,"synthetic",-1,0);sqlite3_bind_double(endins,8,300);sqlite3_bind_text(endins,9,"2026-12-01T00:00:00.000Z",-1,0); \
       sqlite3_bind_text(endins,10,"2026-12-01T00:00:02.000Z",-1,0);sqlite3_bind_text(endins,11,"succeeded",-1,0); STEP(endins); } else if(!noatt) STEP(fin); else sqlite3_reset(fin);}while(0)
  #define COMP(k) do{ if(noret){ sqlite3_bind_text(comp2,1,"2026-12-01T00:00:02.000Z",-1,0);sqlite3_bind_int64(comp2,2,ids[k]);sqlite3_bind_int64(comp2,3,tok[k]);sqlite3_bind_text(comp2,4,"worker-1",-1,0); STEP(comp2); if(sqlite3_changes(db)!=1){fprintf(stderr,"nochg\n");exit(1);} \
       sqlite3_bind_int64(sel,1,ids[k]); sqlite3_step(sel); for(int c=0;c<22;c++) sqlite3_column_text(sel,c); STEP(sel); \
     } else { sqlite3_bind_text(comp,1,"2026-12-01T00:00:02.000Z",-1,0);sqlite3_bind_int64(comp,2,ids[k]);sqlite3_bind_int64(comp,3,tok[k]);sqlite3_bind_text(comp,4,"worker-1",-1,0); if(sqlite3_step(comp)!=SQLITE_ROW){fprintf(stderr,"no comp\n");exit(1);} for(int c=0;c<22;c++) sqlite3_column_text(comp,c); STEP(comp); } \
     FIN(k); }while(0)
  STEP(bg); for(int k=0;k<G;k++) LEASE(k); STEP(cm);
  double t=now();
  for(int i=0;i<N;i+=G){ STEP(bg); for(int k=0;k<G;k++){COMP(k);LEASE(k);} STEP(cm); }
  double ours=N/(now()-t);
  // minimal
  snprintf(buf,sizeof buf,"rm -f %s.m %s.m-wal %s.m-shm",path,path,path); system(buf);
  snprintf(buf,sizeof buf,"%s.m",path); sqlite3*m; sqlite3_open(buf,&m);
  ex(m,"PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; CREATE TABLE q (id INTEGER PRIMARY KEY, state TEXT, run_at TEXT, body TEXT); CREATE INDEX q_lease ON q (run_at, id) WHERE state='queued'; BEGIN");
  sqlite3_stmt*mi=prep(m,"INSERT INTO q (state, run_at, body) VALUES ('queued','2026','{}')"); for(int i=0;i<N+B;i++){sqlite3_step(mi);sqlite3_reset(mi);} ex(m,"COMMIT");
  sqlite3_stmt*ml=prep(m,"UPDATE q SET state='running' WHERE id = (SELECT id FROM q WHERE state='queued' AND run_at <= '2027' ORDER BY run_at, id LIMIT 1) RETURNING id");
  sqlite3_stmt*mc=prep(m,"UPDATE q SET state='done' WHERE id=?");
  t=now(); for(int i=0;i<N;i++){ sqlite3_step(ml); long long id=sqlite3_column_int64(ml,0); sqlite3_step(ml); sqlite3_reset(ml); sqlite3_bind_int64(mc,1,id); sqlite3_step(mc); sqlite3_reset(mc);} double mn=N/(now()-t);
  printf("G=%d rowless=%d drop=%s ours %.0f minimal %.0f ratio %.2f\n",G,rowless,drop,ours,mn,ours/mn);
}
