# error_n.gp: relative test error vs training set size n, log-log; one curve per method
# (median over seeds, bars from the min to the max over seeds).
#   gnuplot -c plots/error_n.gp fig_error_n_X.csv out.png ["title"]
# Input: blocks of "n,median,min,max,n" rows, each opening with a header whose first field
# is the method's name (written by bfc sweep).
in_csv = ARG1
out_file = ARG2
fig_title = (ARGC >= 3) ? ARG3 : ""
load system("dirname '".ARG0."'")."/style.gp"
set logscale xy
set xlabel "training set size n"
set ylabel "relative test error  E(F - G*)^2 / Var G*" noenhanced
set format x "%g"
set format y "%g"
set key outside right top
set autoscale xfix
set offsets graph 0.05, graph 0.05, 0, 0
plot for [i=0:nblocks-1] in_csv index i using 1:2:3:4 with yerrorlines \
     lc rgb series_color(i) pt series_point(i) title columnheader(1)
