# ingest_drain.gnuplot - docs/ingest-throughput.png from bench/ingest_drain.sh's
# data files. Called as:
#   gnuplot -e "datadir='DIR'; out='PNG'; subtitle='...'; queues=N" bench/ingest_drain.gnuplot
# DIR/{ingest,source,source_reuse,emulator}.dat: seconds messages-done
# DIR/rss.dat, DIR/rss_many.dat:                 seconds VmRSS (MiB) of sesame-ingest
set terminal pngcairo size 1100,440 font "sans,10"
set output out
set multiplot layout 1,2 title "sesame-ingest: SES inbound queue (fauxqs) -> Postfix -> smtp-sink, ".subtitle
set grid
set key right bottom

set title "Messages done against time, each phase from its start"
set xlabel "seconds"
set ylabel "messages"
set yrange [0:*]
plot datadir."/emulator.dat" using 1:2 with lines lw 2 lc rgb "#bab0ac" title "emulator alone (Python client)", \
     datadir."/source_reuse.dat" using 1:2 with lines lw 2 lc rgb "#59a14f" title "smtp-source -d (connections reused)", \
     datadir."/source.dat" using 1:2 with lines lw 2 lc rgb "#f28e2b" title "smtp-source (a connection per message)", \
     datadir."/ingest.dat" using 1:2 with lines lw 2.5 lc rgb "#4e79a7" title "sesame-ingest"

set title "Resident set of sesame-ingest (VmRSS)"
set ylabel "MiB"
set yrange [0:*]
set key right bottom
plot datadir."/rss.dat" using 1:2 with lines lw 2 lc rgb "#4e79a7" title "1 queue, drain run", \
     datadir."/rss_many.dat" using 1:2 with lines lw 2 lc rgb "#e15759" title sprintf("%d queues (1 busy, then all idle)", queues), \
     64e6/1048576 with lines dt 2 lc rgb "black" title "64 MB target (61.0 MiB)"
unset multiplot
