# milter_e2e.gnuplot - docs/milter-throughput.png from bench/milter_e2e.sh's
# data files. Called as: gnuplot -e "datadir='DIR'; out='PNG'; subtitle='...'" bench/milter_e2e.gnuplot
# DIR/throughput.dat: index "label" median min max (msg/s)
# DIR/rounds.dat:     index msg/s (one line per round)
# DIR/latency.dat:    index "label" median p99 (ms)
set terminal pngcairo size 1100,440 font "sans,10"
set output out
set multiplot layout 1,2 title "Postfix + milter on loopback (unix socket), ".subtitle
set style fill solid 0.6 border -1
set boxwidth 0.6
set grid ytics
set xtics nomirror
set key off

set title "Throughput: smtp-source -> Postfix -> smtp-sink\nmedian (bar), min-max (error bar), each round (dot)"
set ylabel "messages per second"
set yrange [0:*]
set offsets 0, 0, graph 0.08, 0
set xrange [-0.6:*]
plot datadir."/throughput.dat" using 1:3:xtic(2) with boxes lc rgb "#4e79a7", \
     "" using 1:3:4:5 with yerrorbars lc rgb "black" pt 0 lw 1.5, \
     "" using 1:5:(sprintf("%.0f", $3)) with labels offset 0,0.8 font "sans,9", \
     datadir."/rounds.dat" using ($1+0.15):2 with points pt 7 ps 0.5 lc rgb "#e15759"

set title "Latency, one session: connect to 250 after the final dot\nmedian (bar), p99 (square)"
set ylabel "milliseconds per message"
set yrange [0:*]
plot datadir."/latency.dat" using 1:3:xtic(2) with boxes lc rgb "#59a14f", \
     "" using 1:4 with points pt 5 ps 1.2 lc rgb "#f28e2b", \
     "" using 1:4:(sprintf("p99 %.1f", $4)) with labels offset 0,0.9 font "sans,9", \
     "" using 1:(0):(sprintf("%.2f", $3)) with labels offset 0,0.8 font "sans,9"
unset multiplot
