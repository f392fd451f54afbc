# error_bulk.gp: the relative test error beside the bulk error (the same error over the test
# points whose G* lies in its central 99.9%), each vs n, log-log, one curve per method
# (colour and marker from style.gp; median over seeds, bars from the min to the max). From
# L = 4 on a handful of extreme test points can decide the plain error of every method; the
# right panel shows whether the ordering of the methods holds on the rest.
#   gnuplot -c plots/error_bulk.gp fig_error_bulk_X.csv out.png ["title"]
# Input: blocks of "n,median,min,max,bulk_median,bulk_min,bulk_max" rows, each opening with a
# header whose first field is the method's name.
in_csv = ARG1
out_file = ARG2
fig_title = (ARGC >= 3) ? ARG3 : ""
load system("dirname '".ARG0."'")."/style.gp"
# one y range for both panels
stats in_csv using 3 nooutput
ylo = STATS_min
stats in_csv using 4 nooutput
yhi = STATS_max
stats in_csv using 6 nooutput
ylo = STATS_min < ylo ? STATS_min : ylo
stats in_csv using 7 nooutput
yhi = STATS_max > yhi ? STATS_max : yhi
set logscale xy
set yrange [ylo / 1.5 : yhi * 1.5]
set format x "%g"
set format y "%g"
set xlabel "training set size n"
set autoscale xfix
set offsets graph 0.05, graph 0.05, 0, 0
set title
set multiplot layout 1, 2 title fig_title noenhanced font ",11"
set ylabel "relative test error  E(F − G^*)^2 / Var G^*"
set key top right
unset key
set label 1 "all test points" at graph 0.03, graph 0.05 left font ",10"
plot for [i=1:nblocks] in_csv index (i - 1) using 1:2:3:4 with yerrorlines \
     lc rgb block_color(i - 1) pt block_point(i - 1) title columnheader(1)
set ylabel "bulk error: central 99.9% of G^*"
set key top right
set label 1 "central 99.9% of G^*" at graph 0.03, graph 0.05 left font ",10"
plot for [i=1:nblocks] in_csv index (i - 1) using 1:5:6:7 with yerrorlines \
     lc rgb block_color(i - 1) pt block_point(i - 1) title columnheader(1)
unset multiplot
