# error_n.gp: relative test error vs training set size n, log-log; one curve per method
# (median over seeds, bars from the min to the max over seeds); colour and marker = method
# (style.gp's table), dash = target when a group has several.
#   gnuplot -c plots/error_n.gp fig_error_n_X.csv out.png ["title"]
# Input: blocks of "n,median,min,max,n,colour,point,dash" rows, each opening with a header whose
# first field is the series' name (written by bfc sweep); column 8 numbers the target in a
# group of several (dash).
in_csv = ARG1
out_file = ARG2
fig_title = (ARGC >= 3) ? ARG3 : ""
load system("dirname '".ARG0."'")."/style.gp"
set logscale xy
set xlabel "training set size n"
set ylabel "relative test error  E(F − G^*)^2 / Var G^*"
set format x "%g"
set xtics nomirror
set format y "%g"
set key outside right top
set autoscale xfix
set offsets graph 0.05, graph 0.05, 0, 0
# each block's dash (its target in a group) is in its column 8
array dash[nblocks]
do for [i=1:nblocks] {
    stats in_csv index (i - 1) using 8 nooutput
    dash[i] = int(STATS_min)
}
plot for [i=1:nblocks] in_csv index (i - 1) using 1:2:3:4 with yerrorlines \
     lc rgb block_color(i - 1) pt block_point(i - 1) dt 1 + dash[i] % 5 \
     title columnheader(1)
